"""twistd finds every netsuite plugin, from an editable and from a regular install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ("chat", "udpecho", "tcplog", "rpc")


def test_venv_twistd_lists_plugins(tmp_path: Path) -> None:
    """The venv's own ``twistd`` script, run away from the source tree (editable install)."""
    twistd = Path(sys.executable).with_name("twistd")
    result = subprocess.run(
        [str(twistd), "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for name in PLUGINS:
        assert f"    {name} " in result.stdout, result.stdout


@pytest.mark.slow
def test_regular_install_lists_plugins(tmp_path: Path) -> None:
    """A non-editable install (``pip install .``) into a separate directory finds them too."""
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
         "--target", str(target), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    assert (target / "twisted" / "plugins" / "netsuite_plugins.py").exists()
    assert (target / "twisted" / "plugins" / "netsuite_mtls.py").exists()
    assert not (target / "twisted" / "__init__.py").exists()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    # -I would drop PYTHONPATH; -S is not wanted (twisted comes from the venv's site-packages).
    code = (
        "import sys; sys.path.remove('') if '' in sys.path else None;"
        "import netsuite, twisted.plugins.netsuite_plugins as p;"
        "assert netsuite.__file__.startswith(sys.argv[1]), netsuite.__file__;"
        "from twisted.scripts.twistd import run; sys.argv=['twistd','--help']; run()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(target)], capture_output=True, text=True,
        cwd=workdir, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for name in PLUGINS:
        assert f"    {name} " in result.stdout, result.stdout


@pytest.mark.parametrize("name", PLUGINS)
def test_plugin_help(name: str, tmp_path: Path) -> None:
    """``twistd PLUGIN --help`` documents the plugin's options and exits 0."""
    twistd = Path(sys.executable).with_name("twistd")
    result = subprocess.run([str(twistd), name, "--help"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--metrics" in result.stdout


def test_dropins_are_lazy(tmp_path: Path) -> None:
    """Loading the dropins (and listing their plugins) imports neither the reactor nor the
    services: twistd must be free to install the reactor it is asked for afterwards."""
    code = (
        "import sys\n"
        "from twisted.plugin import getPlugins\n"
        "from twisted.application.service import IServiceMaker\n"
        "from twisted.internet.interfaces import IStreamServerEndpointStringParser\n"
        "makers = {p.tapname for p in getPlugins(IServiceMaker)}\n"
        "parsers = {p.prefix for p in getPlugins(IStreamServerEndpointStringParser)}\n"
        "assert {'chat', 'udpecho', 'tcplog', 'rpc'} <= makers, makers\n"
        "assert 'mtls' in parsers, parsers\n"
        "loaded = [m for m in sys.modules if m == 'twisted.internet.reactor'\n"
        "          or m.startswith(('netsuite.chat', 'netsuite.rpc', 'netsuite._mtls'))]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
