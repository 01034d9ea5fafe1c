"""Before Qt starts on Linux: are the system libraries of Qt's X11 plugin there?

On a fresh desktop install, Qt 6 aborts with "Could not load the Qt platform plugin
xcb" when ``libxcb-cursor0`` or one of its friends is missing; the message does not
say which package to install. This check loads each library the plugin needs (as the
dynamic loader will) and, when some are missing, prints the one command that installs
them. No Qt import, so it runs before anything can abort.

With no display at all (an SSH session without X forwarding, a service), Qt aborts with the
same misleading "libxcb-cursor0 is needed"; that case is said as it is first.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# soname -> Debian/Ubuntu package, for the libraries Qt's xcb platform plugin links.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


def can_load(soname: str) -> bool:
    """Whether the dynamic loader finds ``soname`` (bundled copies count, see below)."""
    try:
        ctypes.CDLL(soname)
        return True
    except OSError:
        pass
    bundle = getattr(sys, "_MEIPASS", None)  # a frozen bundle ships some of them itself
    return bool(bundle) and any(Path(bundle).rglob(soname))


def missing_libraries(
    load: Callable[[str], bool] = can_load, libraries: Mapping[str, str] = XCB_LIBRARIES
) -> list[str]:
    """The sonames that cannot be loaded, in a stable order."""
    return [name for name in libraries if not load(name)]


def install_command(missing: list[str], libraries: Mapping[str, str] = XCB_LIBRARIES) -> str:
    """The one line that installs the packages holding ``missing`` (Debian/Ubuntu)."""
    packages = sorted({libraries[name] for name in missing if name in libraries})
    return "sudo apt install " + " ".join(packages)


def message(missing: list[str]) -> str:
    """What to tell the person at the keyboard (stderr; nothing graphical works yet)."""
    return (
        "LesionLens cannot open its window: this computer lacks system libraries that Qt "
        f"needs ({', '.join(missing)}).\n"
        "Install them with:\n"
        f"    {install_command(missing)}\n"
        "(Fedora: sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms "
        "xcb-util-image xcb-util-renderutil libxkbcommon-x11)"
    )


def needs_xcb(
    env: Mapping[str, str] | None = None, platform: str | None = None, frozen: bool | None = None
) -> bool:
    """True when Qt will use its X11 plugin.

    That is on Linux with QT_QPA_PLATFORM unset or "xcb", except in a Wayland session
    run from source (Qt then picks its Wayland plugin; the bundle ships only xcb).
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").strip().lower()
    if chosen:
        return chosen.startswith("xcb")
    wayland = env.get("XDG_SESSION_TYPE") == "wayland" and bool(env.get("WAYLAND_DISPLAY"))
    return frozen or not wayland


NO_DISPLAY = (
    "LesionLens cannot open its window: there is no display (neither DISPLAY nor "
    "WAYLAND_DISPLAY is set, as in an SSH session without X forwarding).\n"
    "Start it from the desktop session, or give --classify PHOTO_OR_FOLDER for results "
    "without a window."
)


def no_display(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """True on Linux when Qt would look for an X11 or Wayland display and none is set.

    Qt's other plugins (offscreen, minimal, eglfs, vnc...) need no display, so a
    QT_QPA_PLATFORM naming one of them is taken at its word.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").strip().lower()
    if chosen and not chosen.startswith(("xcb", "wayland")):
        return False
    return not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY")


def check(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    load: Callable[[str], bool] = can_load,
    frozen: bool | None = None,
) -> str | None:
    """None when the window can start; else the message to print before giving up."""
    if no_display(env, platform):
        return NO_DISPLAY
    if not needs_xcb(env, platform, frozen):
        return None
    missing = missing_libraries(load)
    return message(missing) if missing else None
