"""`load()` resolves once: over a release with two one-file splits it runs `git ls-remote` once and builds one
DVC filesystem (the old client ran ls-remote 8 times and built 7 filesystems)."""

from __future__ import annotations

import pandas as pd

import dreg_client
import dreg_client.registry as registry_module


def test_load_runs_ls_remote_once_and_builds_one_dvc_filesystem(toy_local, monkeypatch):
    for key, value in toy_local.env.items():
        monkeypatch.setenv(key, value)
    calls: list[str] = []
    real_git = registry_module.git

    def counting_git(*args, **kwargs):
        calls.append(args[0])
        return real_git(*args, **kwargs)

    from dvc.api import DVCFileSystem

    built: list[object] = []
    real_init = DVCFileSystem.__init__

    def counting_init(self, *args, **kwargs):
        built.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(registry_module, "git", counting_git)
    monkeypatch.setattr(DVCFileSystem, "__init__", counting_init)
    splits = dreg_client.load("toy@1.0.0", repo=str(toy_local.origin))
    assert sorted(splits) == ["train", "val"] and len(splits["train"]) == 6 and len(splits["val"]) == 3
    assert calls.count("ls-remote") == 1
    assert len(built) == 1


def test_a_registry_handle_serves_many_calls_with_one_resolution(toy_local, monkeypatch):
    for key, value in toy_local.env.items():
        monkeypatch.setenv(key, value)
    with dreg_client.Registry.open(toy_local.origin) as reg:
        train = dreg_client.load("toy@latest", split="train", repo=reg)
        val = dreg_client.open_frame("toy", "processed/val/val.parquet", "1.0.0", reg)
        assert dreg_client.read_metadata("toy-v1.0.0", repo=reg)["splits"]["val"]["num_samples"] == len(val)
        assert list(reg.refs) == ["toy-v1.0.0"] and len(reg._fs) == 1
    pd.testing.assert_frame_equal(train, pd.DataFrame({"x": range(6), "label": ["a", "b", "c"] * 2}))
