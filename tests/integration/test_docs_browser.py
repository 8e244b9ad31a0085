"""The docs page in a real browser: Debian's chromium, headless, driven through chromedriver
(python3-selenium). `/` and `/docs` load without a console error or a Content-Security-Policy
violation, every operation of /openapi.json is on the page, every link resolves (anchors exist,
links to the service answer 200), and the page fits a phone's width (no horizontal scroll at
390 px). Screenshots of both widths go to <build>/test/screenshots/ for a person to look at."""

import base64
import json
import os
import unittest
import urllib.parse

from harness import BIN, ServiceTestCase

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service as DriverService
except ImportError:  # the test command installs python3-selenium; a bare python3 has none
    webdriver = None

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE_WIDTH = 390  # an iPhone 12-15's CSS width
DESKTOP_WIDTH = 1280
SCREENSHOTS = os.path.join(os.path.dirname(os.path.abspath(BIN)) if BIN else ".", "screenshots")
PAGES = ("/", "/docs")
METHODS = ("get", "head", "post", "put", "patch", "delete", "options")

# Runs before the page's own content (CDP scripts are not subject to the page's CSP): keeps every
# CSP violation the page causes, in case the browser log leaves one out.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});
"""

# Every place the page names routes: a table row (methods in its first cell) or a route heading
# (methods in badges); with the paths it names in <code>.
ROUTE_MENTIONS = """
const out = [];
for (const row of document.querySelectorAll("tr")) {
  const cells = row.querySelectorAll("td");
  if (cells.length < 2) continue;
  out.push({methods: cells[0].textContent.toUpperCase().split(/[^A-Z]+/).filter(Boolean),
            paths: [...row.querySelectorAll("code")].map((c) => c.textContent.trim())});
}
for (const p of document.querySelectorAll(".route")) {
  out.push({methods: [...p.querySelectorAll(".m")].map((m) => m.textContent.trim().toUpperCase()),
            paths: [...p.querySelectorAll("code")].map((c) => c.textContent.trim())});
}
return out;
"""


@unittest.skipIf(webdriver is None, "python3-selenium is not installed")
@unittest.skipUnless(os.access(CHROMEDRIVER, os.X_OK) and os.access(CHROMIUM, os.X_OK),
                     "chromium and chromium-driver are not installed")
class DocsInBrowserTest(ServiceTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        options = Options()
        options.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-extensions", "--hide-scrollbars"):
            options.add_argument(flag)
        options.add_argument("--window-size=%d,900" % DESKTOP_WIDTH)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        cls.driver = webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
        cls.addClassCleanup(cls.driver.quit)
        cls.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                   {"source": RECORD_VIOLATIONS})
        os.makedirs(SCREENSHOTS, exist_ok=True)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.svc.port, path)

    def open(self, path, width=DESKTOP_WIDTH, mobile=False):
        """Loads `path` at a viewport `width` CSS px wide; returns the browser log of the load."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile})
        self.driver.get_log("browser")  # what came before this load is not ours
        self.driver.get(self.url(path))
        self.assertEqual(self.driver.execute_script("return document.readyState"), "complete")
        return self.driver.get_log("browser")

    def assertCleanLoad(self, path, log):
        errors = [e["message"] for e in log
                  if e["level"] == "SEVERE" or "Content Security Policy" in e["message"]]
        self.assertEqual(errors, [], "console errors on %s" % path)
        violations = self.driver.execute_script("return window.__violations")
        self.assertEqual(violations, [], "CSP violations on %s" % path)

    def screenshot(self, name):
        """The whole page (beyond the viewport), as a PNG under SCREENSHOTS."""
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics["cssContentSize"]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                     "scale": 1}})
        path = os.path.join(SCREENSHOTS, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        return path

    # -- tests ---------------------------------------------------------------------------------

    def test_pages_load_without_console_errors_or_csp_violations(self):
        for path in PAGES:
            with self.subTest(path=path):
                log = self.open(path)
                self.assertCleanLoad(path, log)
                self.assertIn("imagecpp", self.driver.title)

    def test_every_operation_of_the_openapi_document_is_on_the_page(self):
        status, _, body = self.svc.request("GET", "/openapi.json")
        self.assertEqual(status, 200)
        operations = [(method.upper(), path)
                      for path, item in json.loads(body)["paths"].items()
                      for method in item if method in METHODS]
        self.assertGreater(len(operations), 10)
        self.open("/docs")
        mentions = self.driver.execute_script(ROUTE_MENTIONS)
        missing = [(method, path) for method, path in operations
                   if not any(method in m["methods"] and path in m["paths"] for m in mentions)]
        self.assertEqual(missing, [], "operations the page does not name")

    def test_every_link_resolves(self):
        self.open("/docs")
        links = self.driver.execute_script(
            "return [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href'))")
        self.assertTrue(links)
        ids = set(self.driver.execute_script(
            "return [...document.querySelectorAll('[id]')].map((e) => e.id)"))
        for href in sorted(set(links)):
            with self.subTest(href=href):
                target = urllib.parse.urlsplit(urllib.parse.urljoin(self.url("/docs"), href))
                self.assertEqual((target.scheme, target.netloc),
                                 ("http", "127.0.0.1:%d" % self.svc.port),
                                 "a link out of the service: the page must stand alone")
                if target.fragment:
                    self.assertIn(urllib.parse.unquote(target.fragment), ids, "no such anchor")
                if target.path != "/docs" or target.query:
                    status = self.svc.request("GET", target.path + (
                        "?" + target.query if target.query else ""))[0]
                    self.assertEqual(status, 200)

    def test_readable_at_a_phone_width_without_horizontal_scroll(self):
        for width, mobile, name in ((PHONE_WIDTH, True, "docs-%d.png" % PHONE_WIDTH),
                                    (DESKTOP_WIDTH, False, "docs-%d.png" % DESKTOP_WIDTH)):
            with self.subTest(width=width):
                self.assertCleanLoad("/docs", self.open("/docs", width, mobile))
                self.assertTrue(os.path.getsize(self.screenshot(name)) > 0)
                # A phone widens its layout viewport to content that does not fit: innerWidth
                # grows with it. Either width past the device's is a sideways scroll.
                inner, scroll = self.driver.execute_script(
                    "return [window.innerWidth, document.documentElement.scrollWidth]")
                wide = self.driver.execute_script("""
                  return [...document.querySelectorAll("main *")]
                    .filter((e) => e.getBoundingClientRect().right > arguments[0] + 0.5)
                    .filter((e) => !e.parentElement.closest("pre, .scroll"))
                    .map((e) => e.tagName + " " + e.textContent.trim().slice(0, 50));""", width)
                self.assertLessEqual(max(inner, scroll), width,
                                     "the page scrolls sideways at %d px: %s" % (width, wide))
                self.assertEqual(wide, [], "elements past the right edge at %d px" % width)


if __name__ == "__main__":
    unittest.main()
