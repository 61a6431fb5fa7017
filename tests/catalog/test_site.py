"""The catalogue as a person sees it: headless Chromium at laptop width, plus `--repo` equivalence."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.support.registry import Released

pytestmark = pytest.mark.xdist_group("catalog")  # one sample registry per worker
SHOTS = Path("/tmp/catalog-shots")
WIDTH, HEIGHT = 1366, 768
INSTALL = "run scripts/install-browser.sh (Debian chromium + chromium-driver) and `pip install -e .[dev]`"


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
    assert {"index.html", "datasets/wine-quality.html", "datasets/fashion-mnist.html"} <= set(tree(site))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
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
                f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    yield driver
    driver.quit()


def check_page(driver, site: Path) -> None:
    """No horizontal overflow, every plot drawn with a size, every link target present."""
    from selenium.webdriver.common.by import By

    assert driver.execute_script("return document.scrollingElement.scrollWidth <= window.innerWidth"), \
        driver.execute_script("return [document.scrollingElement.scrollWidth, window.innerWidth]")
    for el in driver.find_elements(By.CSS_SELECTOR, "img, svg"):
        assert el.size["width"] > 0 and el.size["height"] > 0, el.get_attribute("outerHTML")[:120]
        if el.tag_name == "img":
            assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", el) > 0
    for el in driver.find_elements(By.CSS_SELECTOR, "a[href], img[src]"):
        url = urlparse(el.get_attribute("href") or el.get_attribute("src"))
        if url.scheme == "file":
            target = Path(unquote(url.path))
            assert target.is_file() and target.resolve().is_relative_to(site.resolve()), url.geturl()
        else:
            assert url.scheme == "https", url.geturl()


def screenshot(driver, path: Path) -> None:
    """A full-page screenshot at laptop width, copied to /tmp/catalog-shots/."""
    height = driver.execute_script("return document.scrollingElement.scrollHeight")
    driver.set_window_size(WIDTH, min(height + 140, 8000))
    driver.save_screenshot(str(path))
    driver.set_window_size(WIDTH, HEIGHT)
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def test_index_and_dataset_page_in_a_browser(browser, released: Released, site: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get((site / "index.html").as_uri())
    tags = released.tags()
    for tag in tags:
        dataset, _, semver = tag.rpartition("-v")
        row = f"//tr[td/a[text()='{dataset}']]"
        assert driver.find_element(By.XPATH, f"{row}/td/a").is_displayed()
        assert driver.find_element(By.XPATH, f"{row}//span[text()='{semver}']").is_displayed()
    check_page(driver, site)
    screenshot(driver, tmp_path / "catalog-index.png")

    driver.find_element(By.LINK_TEXT, "wine-quality").click()
    assert driver.current_url.endswith("/datasets/wine-quality.html")
    for tag in (t for t in tags if t.startswith("wine-quality-")):
        assert driver.find_element(By.XPATH, f"//td/span[text()='{tag}']").is_displayed()
    assert len(driver.find_elements(By.CSS_SELECTOR, "img")) == 2
    assert driver.find_element(By.CSS_SELECTOR, "svg.lineage").is_displayed()
    flagged = driver.find_elements(By.CSS_SELECTOR, "tr.flag")
    assert flagged and all(row.is_displayed() for row in flagged)
    assert "CC BY 4.0" in driver.find_element(By.CSS_SELECTOR, ".card").text
    check_page(driver, site)
    screenshot(driver, tmp_path / "catalog-wine-quality.png")
