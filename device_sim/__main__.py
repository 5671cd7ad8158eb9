"""`python -m device_sim`: managed devices alone, against any cloud (and whatever SCEP URLs its
profiles name). Settings from `DEVICE_*` variables; the devices by name:

    DEVICE_TENANT=contoso-lab.onmicrosoft.com DEVICE_UPN=admin@... DEVICE_PASSWORD=... \\
        python -m device_sim LAB-LAPTOP-01 LAB-IPHONE-01      # or --all

Each device enrols (MDM), checks in and runs its SCEP profiles as its platform's persona does.
Exit status 0 when every device ended with its certificates installed, 1 otherwise, 2 for bad
settings.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import httpx
from pydantic import ValidationError

from .cloud import CloudRefused
from .runner import run
from .settings import DeviceSettings


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m device_sim")
    parser.add_argument("names", nargs="*", help="device names (deviceName)")
    parser.add_argument("--all", action="store_true", help="every device of the tenant")
    args = parser.parse_args(argv)
    if not args.names and not args.all:
        parser.error("name some devices, or --all")
    try:
        settings = DeviceSettings()  # type: ignore[call-arg]  # from the environment
    except ValidationError as exc:
        print(f"device_sim: bad settings (DEVICE_*):\n{exc}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(run(settings, None if args.all else args.names))
    except (CloudRefused, httpx.HTTPError, OSError) as exc:
        print(f"device_sim: {exc}", file=sys.stderr)
        return 1
    for result in sorted(report.results, key=lambda r: r.record.name):
        states = ", ".join(o.state for o in result.outcomes) or result.error or "nothing to do"
        print(f"{result.record.name:<24} {result.record.platform.value:<8} {states}")
    print(
        f"{report.installed}/{len(report.results)} installed in {report.elapsed:.1f} s "
        f"({report.rate:.1f} devices/s)"
    )
    for why, count in report.failures.most_common():
        print(f"  {count} × {why}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
