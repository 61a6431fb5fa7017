"""The catalogue as a person sees it: headless Chromium at laptop (1366 px) and phone (390 px) width, plus `--repo`
equivalence and file modes a web server can read."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from tests.catalog.conftest import CURATED
from tests.support.registry import Released

pytestmark = pytest.mark.xdist_group("catalog")  # one sample registry per worker
SHOTS = Path("/tmp/shots")
WIDTHS = (1366, 390)
HEIGHT = 800
INSTALL = "run scripts/install-browser.sh (Debian chromium + chromium-driver) and `pip install -e .[dev]`"
PAGES = ("wine-quality", "fashion-mnist", "roco-radiology", CURATED)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def site(released: Released, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    released.dreg("catalog", "build", "-o", str(out))
    return out


def test_repo_option_on_the_bare_origin_builds_the_same_pages(released: Released, site: Path, tmp_path: Path) -> None:
    released.dreg("catalog", "build", "-o", str(tmp_path / "remote"), "--repo", str(released.reg.origin),
                  cwd=tmp_path)
    assert tree(tmp_path / "remote") == tree(site)
    assert {"index.html", *(f"datasets/{p}.html" for p in PAGES)} <= set(tree(site))


def test_every_site_file_is_readable_by_a_web_server_under_another_user(site: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    modes = {p.relative_to(site).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in site.rglob("*") if p.is_file()}
    assert modes and set(modes.values()) == {0o666 & ~umask}, modes
    if umask & 0o044 == 0:
        assert all(mode & 0o044 == 0o044 for mode in modes.values())


def test_the_index_works_without_javascript(site: Path) -> None:
    """Rows are never hidden in the HTML; the filter box stays hidden until its script shows it."""
    html = (site / "index.html").read_text()
    assert "<tr hidden" not in html and '<input id="filter" type="search"' in html
    assert html.split('<input id="filter"', 1)[1].split(">", 1)[0].rstrip().endswith("hidden")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through the system chromedriver (no driver download)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"selenium is not installed: {INSTALL}")
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.fail(f"chromium / chromedriver not found: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WIDTHS[0]},{HEIGHT}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    yield driver
    driver.quit()


def viewport(driver: Any, width: int, height: int = HEIGHT) -> None:
    """Emulate a screen `width` CSS pixels wide (a phone below 600 px: its viewport meta tag applies)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def js(driver: Any, script: str, *args: Any) -> Any:
    return driver.execute_script(script, *args)


def open_all_details(driver: Any) -> None:
    js(driver, "document.querySelectorAll('details').forEach(d => d.open = true)")


def check_page(driver: Any, site: Path, width: int) -> None:
    """No horizontal overflow, every image and SVG drawn with a size, every link target present."""
    from selenium.webdriver.common.by import By

    assert js(driver, "return window.innerWidth") == width
    assert js(driver, "return document.documentElement.scrollWidth <= window.innerWidth"), \
        js(driver, "return [document.documentElement.scrollWidth, window.innerWidth]")
    for el in driver.find_elements(By.CSS_SELECTOR, "img, svg"):
        if not el.is_displayed():
            continue
        assert el.size["width"] > 0 and el.size["height"] > 0, el.get_attribute("outerHTML")[:120]
        if el.tag_name == "img":
            assert js(driver, "return arguments[0].complete && arguments[0].naturalWidth", el) > 0
    for el in driver.find_elements(By.CSS_SELECTOR, "a[href], img[src]"):
        url = urlparse(el.get_attribute("href") or el.get_attribute("src"))
        if url.scheme == "file":
            target = Path(unquote(url.path))
            assert target.is_file() and target.resolve().is_relative_to(site.resolve()), url.geturl()
        else:
            assert url.scheme == "https", url.geturl()


def screenshot(driver: Any, name: str, width: int) -> None:
    """A full-page PNG of what is shown at `width`, saved as /tmp/shots/<name>-<width>.png."""
    height = js(driver, "return document.documentElement.scrollHeight")
    viewport(driver, width, min(height, 9000))
    SHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    viewport(driver, width)


def top(driver: Any, selector: str) -> float:
    """Page y of the first element matching `selector`."""
    return float(js(driver, "return document.querySelector(arguments[0]).getBoundingClientRect().top + scrollY",
                    selector))


def visible_rows(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.find_element(By.CSS_SELECTOR, "td a").text
            for row in driver.find_elements(By.CSS_SELECTOR, "#datasets tbody tr") if row.is_displayed()]


@pytest.mark.parametrize("width", WIDTHS)
def test_index_shows_versions_stages_and_filters(browser: Any, released: Released, site: Path, width: int) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    viewport(driver, width)
    driver.get((site / "index.html").as_uri())
    for tag in (t for t in released.tags() if "-v" in t):
        dataset, _, semver = tag.rpartition("-v")
        row = f"//tr[td/a[text()='{dataset}']]"
        assert driver.find_element(By.XPATH, f"{row}/td/a").is_displayed()
        assert driver.find_element(By.XPATH, f"{row}//span[text()='{semver}']").is_displayed()
    wine = "//tr[td/a[text()='wine-quality']]"
    assert driver.find_element(By.XPATH, f"{wine}//span[contains(@class,'stage-prod')]").text == "prod 1.0.0"
    assert driver.find_element(By.XPATH, f"{wine}//span[contains(@class,'stage-staging')]").text == "staging 1.1.0"
    check_page(driver, site, width)
    rows = driver.find_elements(By.CSS_SELECTOR, "#datasets tbody tr")
    if width < 600:  # one card per dataset: cells stacked at full width, not squeezed into columns
        for row in rows:
            assert row.size["height"] < 320, (row.text, row.size)
            cells = [c for c in row.find_elements(By.TAG_NAME, "td") if c.is_displayed()]
            assert all(c.size["width"] > width - 80 for c in cells), [c.size for c in cells]
    else:
        assert all(row.size["height"] < 120 for row in rows), [row.size for row in rows]
    screenshot(driver, "index", width)

    box = driver.find_element(By.ID, "filter")
    assert box.is_displayed()
    box.send_keys("fashion")
    assert visible_rows(driver) == ["fashion-mnist"]
    assert driver.find_element(By.ID, "shown").text == "1 shown"
    box.clear()
    box.send_keys("staging")
    assert visible_rows(driver) == ["wine-quality"]
    box.clear()
    box.send_keys("x")  # `clear()` fires no input event: type then delete
    box.send_keys("\b")
    assert len(visible_rows(driver)) == len(rows) == len(PAGES)
    check_page(driver, site, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_dataset_pages_show_use_preview_card_then_drift(browser: Any, released: Released, site: Path,
                                                        width: int) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    viewport(driver, width)
    for name in PAGES:
        driver.get((site / "datasets" / f"{name}.html").as_uri())
        use = driver.find_element(By.ID, "use")
        assert use.is_displayed() and f"REGISTRY = {json.dumps(str(released.reg.origin))}" in use.text
        assert "<org>" not in driver.page_source and "Licence:" in use.text
        assert top(driver, "#use") < top(driver, "details.preview") < top(driver, ".card") < top(driver, "#drift")
        first = driver.find_element(By.CSS_SELECTOR, "details.preview[open]")
        assert len(first.find_elements(By.CSS_SELECTOR, "tbody tr")) == (3 if name == CURATED else 20)  # 3 questions
        assert js(driver, "return getComputedStyle(document.querySelector('td')).overflowWrap") == "break-word"
        ld = json.loads(driver.find_element(By.CSS_SELECTOR, "script[type='application/ld+json']")
                        .get_attribute("textContent"))
        assert ld["@type"] == "sc:Dataset" and name in ld["name"]
        check_page(driver, site, width)
        if name in ("wine-quality", "roco-radiology"):
            screenshot(driver, name, width)
        open_all_details(driver)
        check_page(driver, site, width)
        if name == "wine-quality":
            wine_details(driver, released)
        elif name in ("fashion-mnist", "roco-radiology"):
            thumbnails(driver, name)
        if name == "roco-radiology":
            labels = [t.get_attribute("textContent") for t in driver.find_elements(By.CSS_SELECTOR, "svg.lineage text")]
            assert any(label.startswith("prompt radiology-caption v1") for label in labels), labels
            assert not any("None" in label for label in labels)
        if name == CURATED:
            card = driver.find_element(By.CSS_SELECTOR, ".card").text
            assert "csv questions.csv" in card and '{"columns"' not in card
            cells = first.find_elements(By.CSS_SELECTOR, "tbody tr:first-child td")
            assert cells[0].text == "How is a dataset version published?"


def wine_details(driver: Any, released: Released) -> None:
    """Stages per version, the card, and the drift table (collapsed until opened) with its flagged rows."""
    from selenium.webdriver.common.by import By

    stages = driver.find_element(By.CSS_SELECTOR, "p.stages").text
    assert "prod 1.0.0" in stages and "staging 1.1.0" in stages
    for tag, stage in (("wine-quality-v1.0.0", "prod"), ("wine-quality-v1.1.0", "staging")):
        row = driver.find_element(By.XPATH, f"//tr[td/span[text()='{tag}']]")
        assert row.find_element(By.CSS_SELECTOR, f".stage-{stage}").is_displayed()
    assert "CC BY 4.0" in driver.find_element(By.CSS_SELECTOR, ".card").text
    assert len(driver.find_elements(By.CSS_SELECTOR, ".plots img")) == 2
    driver.refresh()  # collapsed again
    flagged = driver.find_elements(By.CSS_SELECTOR, "#drift tr.flag")
    assert flagged and not any(row.is_displayed() for row in flagged)
    driver.find_element(By.CSS_SELECTOR, "#drift summary").click()
    assert all(row.is_displayed() for row in flagged)


def thumbnails(driver: Any, name: str) -> None:
    """Every previewed row of every split has its image as a loaded thumbnail file of the site."""
    from selenium.webdriver.common.by import By

    for split in driver.find_elements(By.CSS_SELECTOR, "details.preview"):
        rows = split.find_elements(By.CSS_SELECTOR, "tbody tr")
        images = split.find_elements(By.CSS_SELECTOR, "img.thumb")
        assert len(rows) == 20 and len(images) == 20, (name, len(rows), len(images))
        for img in images:
            assert js(driver, "return arguments[0].complete && arguments[0].naturalWidth", img) > 0
            assert img.is_displayed() and 28 <= img.size["width"] <= 96
            assert f"/previews/{name}/" in img.get_attribute("src")
    if name == "fashion-mnist":  # class labels named as in the schema
        labels = driver.find_elements(By.CSS_SELECTOR, "details.preview tbody td:nth-child(2)")
        assert labels and all(re.fullmatch(r"\d \([A-Z][\w/ -]+\)", label.text) for label in labels), labels[0].text
