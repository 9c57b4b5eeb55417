"""Checks one report.html as Chromium rendered it (scripts/ci-report.sh).

Arguments: the report, the DOM Chromium dumped after load, Chromium's log,
and a screenshot of the page. Fails, naming the report, if the page logged
anything to the console, if a chart of the folder is missing from the page
or was not laid out at a real size, or if the screenshot is blank.
"""

import pathlib
import re
import sys

from PIL import Image


def main(report: str, dom: str, log: str, shot: str) -> int:
    folder = pathlib.Path(report).parent
    problems = []
    console = [line for line in pathlib.Path(log).read_text(errors="replace").splitlines() if ":CONSOLE" in line]
    if console:
        problems.append("console output:\n  " + "\n  ".join(console))
    body = re.search(r"<body([^>]*)>", pathlib.Path(dom).read_text(errors="replace"))
    attrs = dict(re.findall(r'(data-[a-z-]+)="(\d+)"', body.group(1))) if body else {}
    charts = len(list(folder.glob("*.svg")))
    if attrs.get("data-charts") != str(charts) or attrs.get("data-charts-drawn") != str(charts):
        problems.append(f"{charts} charts in the folder, page says {attrs or 'nothing (the script did not run)'}")
    image = Image.open(shot).convert("L")
    lo, hi = image.getextrema()
    colours = len(image.getcolors(maxcolors=1 << 16) or [])
    if hi - lo < 128 or colours < 16:
        problems.append(f"the screenshot looks blank ({colours} grey levels, range {lo}..{hi})")
    if problems:
        print(f"{report}: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"{report}: {charts} charts drawn, no console output, {colours} grey levels")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
