"""webdriver.py - a minimal W3C WebDriver client (Python standard library)
for Debian's chromium + chromium-driver: enough to open a page in a real
headless Chromium, run a script in it, and take a screenshot.
"""

import base64
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request


class WebDriverError(Exception):
    pass


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Chromium:
    def __init__(self, chromium="/usr/bin/chromium",
                 driver="/usr/bin/chromedriver", log=None, size=(1280, 1400)):
        for p in (chromium, driver):
            if not os.access(p, os.X_OK):
                raise WebDriverError("%s missing (packages chromium, "
                                     "chromium-driver)" % p)
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [driver, "--port=%d" % self.port],
            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port
        deadline = time.time() + 20
        while True:
            try:
                self._req("GET", "/status")
                break
            except (OSError, WebDriverError):
                if time.time() > deadline:
                    self.close()
                    raise WebDriverError("chromedriver did not answer")
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--no-first-run",
                         "--window-size=%d,%d" % size]}}}}
        r = self._req("POST", "/session", caps)
        self.sid = r["sessionId"]

    def _req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as f:
                out = json.loads(f.read().decode())
        except urllib.error.HTTPError as e:
            try:
                out = json.loads(e.read().decode())
            except ValueError:
                raise WebDriverError("HTTP %d" % e.code) from None
            raise WebDriverError(str(out.get("value", out))[:500]) from None
        return out.get("value", out) if path != "/session" else out["value"]

    def _s(self, method, path, body=None):
        return self._req(method, "/session/%s%s" % (self.sid, path), body)

    def get(self, url):
        self._s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self._s("POST", "/execute/sync",
                       {"script": script, "args": list(args)})

    def wait_js(self, script, timeout, *args):
        """Run script until it returns something truthy; that, or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.js(script, *args)
            if v:
                return v
            time.sleep(0.05)
        return None

    def screenshot(self, path):
        png = base64.b64decode(self._s("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)

    def close(self):
        try:
            if getattr(self, "sid", None):
                self._req("DELETE", "/session/%s" % self.sid)
        except (OSError, WebDriverError):
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
