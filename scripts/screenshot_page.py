"""A picture of the served page answering a question (the README's `docs/serve.png`): serves the registry on
a free local port, asks in headless Chromium (Debian's `chromium`, driven by Playwright), saves a PNG.

    python scripts/screenshot_page.py --registry runs/main/registry.json --domain walmart.com \
        --question "Do you share my information with third parties?" --out docs/serve.png
"""

from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", default="runs/main/registry.json")
    parser.add_argument("--domain", required=True)
    parser.add_argument("--question", required=True)
    parser.add_argument("--out", default="docs/serve.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = parser.parse_args()

    import uvicorn
    from playwright.sync_api import sync_playwright

    from zeroxqa.config import ServeConfig
    from zeroxqa.serve.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(ServeConfig(registry=args.registry)), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector(f"#domain option[value='{args.domain}']", state="attached")
        page.select_option("#domain", args.domain)
        page.fill("#question", args.question)
        page.click("#go")
        page.wait_for_selector("#result:not([hidden])")
        page.screenshot(path=args.out, full_page=True)
        print(f"{page.inner_text('#answer')!r} -> {args.out}")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
