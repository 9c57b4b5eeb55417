"""Checks the built guide's internal links: every href to a page of the
book leads to a file that exists, and every #anchor to an id on that page.

    python3 scripts/check_book.py target/book
"""

import html.parser
import pathlib
import sys
import urllib.parse


class Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])


def main(root: pathlib.Path) -> int:
    pages = {}
    for path in root.rglob("*.html"):
        page = Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path.resolve()] = page
    broken = []
    checked = 0
    for path, page in pages.items():
        for href in page.hrefs:
            url = urllib.parse.urlparse(href)
            if url.scheme or href.startswith("//"):
                continue
            target = (path.parent / urllib.parse.unquote(url.path)).resolve() if url.path else path
            if target.is_dir():
                target = target / "index.html"
            checked += 1
            if not target.exists():
                broken.append(f"{path.relative_to(root.resolve())}: {href}: no such file")
            elif url.fragment and target.suffix == ".html":
                if url.fragment not in pages[target].ids:
                    broken.append(f"{path.relative_to(root.resolve())}: {href}: no such anchor")
    for b in broken:
        print(b, file=sys.stderr)
    if len(pages) < 10 or checked == 0:
        print(f"check_book: only {len(pages)} pages and {checked} links: is {root} the built book?", file=sys.stderr)
        return 1
    print(f"check_book: {len(pages)} pages, {checked} internal links, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/book")))
