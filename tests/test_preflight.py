"""The check before Qt starts on Linux: a missing X11 library gives the one line that installs it."""

from __future__ import annotations

import sys

import pytest

from desktop import preflight

X11 = {"DISPLAY": ":0"}  # a desktop session


def loader_without(*missing: str):
    return lambda soname: soname not in missing


def test_missing_xcb_cursor_names_the_package():
    message = preflight.check(
        env={"DISPLAY": ":0"}, platform="linux", load=loader_without("libxcb-cursor.so.0")
    )
    assert message is not None
    assert "libxcb-cursor.so.0" in message
    lines = message.splitlines()
    assert any(line.strip() == "sudo apt install libxcb-cursor0" for line in lines)


def test_several_missing_libraries_one_install_line():
    missing = ("libxcb-cursor.so.0", "libxkbcommon-x11.so.0", "libxcb-icccm.so.4")
    message = preflight.check(env=X11, platform="linux", load=loader_without(*missing))
    install = [line.strip() for line in message.splitlines() if "apt install" in line]
    assert install == ["sudo apt install libxcb-cursor0 libxcb-icccm4 libxkbcommon-x11-0"]


def test_nothing_missing_or_no_x11_means_no_message():
    assert preflight.check(env=X11, platform="linux", load=lambda _s: True) is None
    never = loader_without(*preflight.XCB_LIBRARIES)
    assert (
        preflight.check(env={"QT_QPA_PLATFORM": "offscreen"}, platform="linux", load=never) is None
    )
    assert preflight.check(env={}, platform="win32", load=never) is None
    assert preflight.check(env={}, platform="darwin", load=never) is None
    wayland = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}
    assert preflight.check(env=wayland, platform="linux", load=never, frozen=False) is None
    # The bundle ships only the X11 plugin, so it needs the libraries even under Wayland.
    assert preflight.check(env=wayland, platform="linux", load=never, frozen=True) is not None
    assert preflight.check(env={**X11, "QT_QPA_PLATFORM": "xcb"}, platform="linux", load=never)


def test_no_display_is_said_as_such_not_as_a_missing_library():
    never = loader_without(*preflight.XCB_LIBRARIES)
    for env in ({}, {"QT_QPA_PLATFORM": "xcb"}, {"XDG_SESSION_TYPE": "wayland"}):
        message = preflight.check(env=env, platform="linux", load=never)
        assert message == preflight.NO_DISPLAY, env
        assert "no display" in message and "apt install" not in message
    # A display of either kind, or a Qt plugin that needs none: no such message.
    for env in (X11, {"WAYLAND_DISPLAY": "wayland-0"}, {"QT_QPA_PLATFORM": "offscreen"}):
        assert preflight.check(env=env, platform="linux", load=lambda _s: True) is None, env
    assert preflight.check(env={"QT_QPA_PLATFORM": "minimal"}, platform="linux", load=never) is None
    assert preflight.check(env={}, platform="darwin", load=never) is None
    assert preflight.check(env={}, platform="win32", load=never) is None


def test_main_says_no_display_and_exits_1_without_starting_qt(monkeypatch, capsys):
    import desktop.__main__ as entry

    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    started = []
    monkeypatch.setitem(sys.modules, "desktop.qt.app", type(sys)("fake_app"))
    sys.modules["desktop.qt.app"].run_app = lambda *a, **k: started.append(1) or 0
    assert entry.main([]) == 1
    assert "no display" in capsys.readouterr().err
    assert not started


def test_real_loader_finds_libc_and_not_a_made_up_library():
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    assert preflight.can_load("libc.so.6")
    assert not preflight.can_load("libdoes-not-exist-lesionlens.so.9")


def test_main_prints_the_install_line_and_does_not_start_qt(monkeypatch, capsys):
    import desktop.__main__ as entry

    monkeypatch.setattr(
        preflight, "check", lambda: "cannot open\n    sudo apt install libxcb-cursor0"
    )
    started = []
    monkeypatch.setitem(sys.modules, "desktop.qt.app", type(sys)("fake_app"))
    sys.modules["desktop.qt.app"].run_app = lambda *a, **k: started.append(1) or 0
    assert entry.main([]) == 1
    assert "sudo apt install libxcb-cursor0" in capsys.readouterr().err
    assert not started
