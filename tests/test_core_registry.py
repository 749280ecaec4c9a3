"""Registry: entry-point discovery, did-you-mean, broken plugins reported, spec options parsed into Config."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.core_plugins import PLUGINS

from emobench import registry
from emobench.cli import main as cli
from emobench.errors import EmobenchError, PluginError


@pytest.fixture
def plugins(monkeypatch):
    monkeypatch.setenv("EMOBENCH_PLUGINS", PLUGINS)
    return registry.methods()


def test_builtin_sd_comes_from_entry_point():
    reg = registry.methods()
    assert "sd" in reg.names()
    assert reg.entries["sd"].target == "baselines.stable_diffusion:StableDiffusionMethod"


def test_unknown_method_did_you_mean(plugins):
    with pytest.raises(EmobenchError) as err:
        plugins.get("noize")
    msg = str(err.value)
    assert "unknown method 'noize'" in msg and "did you mean 'noise'" in msg and "sd" in msg


def test_broken_plugin_reported_others_load(plugins):
    assert "missing" in plugins.broken()
    assert "noise" in plugins.names() and "sd" in plugins.names()
    with pytest.raises(PluginError, match="failed to load"):
        plugins.get("missing")


def test_list_shows_broken(plugins, capsys):
    assert cli(["list", "methods"]) == 0
    out = capsys.readouterr().out
    assert "noise" in out and "missing" in out and "FAILED TO LOAD" in out


def test_spec_options_typed(plugins):
    label, m = plugins.create("noise:scale=2.5:tags=a+b:flag=yes:steps=none")
    assert m.config.scale == 2.5 and m.config.tags == ("a", "b") and m.config.flag is True and m.config.steps is None
    assert label == "noise:flag=true:scale=2.5:tags=a+b"
    assert plugins.create("noise:steps=3")[1].config.steps == 3
    assert plugins.create("noise")[0] == "noise"


@pytest.mark.parametrize("spec, message", [
    ("noise:bogus=1", "has no option 'bogus'"),
    ("noise:scale=abc", "option scale='abc' is not a valid float"),
    ("noise:flag=maybe", "is not a valid bool"),
    ("noise:scale", "is not key=value"),
])
def test_bad_options(plugins, spec, message):
    with pytest.raises(EmobenchError, match=message):
        plugins.create(spec)


def test_split_specs_keeps_option_lists():
    assert registry.split_specs("emogen:fuse=amusement+fear,sd:guidance_scale=7,steps=3, noise") == [
        "emogen:fuse=amusement+fear", "sd:guidance_scale=7:steps=3", "noise"]


def test_looking_up_sd_imports_no_other_method():
    """The registry is lazy per entry: resolving ``sd`` (as ``run --methods sd`` does) imports sd's module
    only, and listing names imports none."""
    code = (
        "import sys\n"
        "from emobench import registry\nfrom emobench.run import runner\n"
        "reg = registry.methods()\n"
        "assert 'sd' in reg.names() and 'emogen' in reg.names()\n"
        "assert not [m for m in sys.modules if m.startswith(('baselines', 'emogen'))], 'names() imported a plugin'\n"
        "runner.resolve_methods(['sd'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('baselines', 'emogen'))))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "EMOBENCH_PLUGINS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "['baselines', 'baselines.stable_diffusion']", out


def test_broken_lists_every_plugin_after_loading_all(plugins):
    assert "missing" in plugins.names()            # discovered without importing it
    assert "missing" not in plugins.available()     # but it does not load
    assert "missing" in plugins.broken()
def test_env_plugin_module_found_in_the_current_directory(tmp_path):
    """``EMOBENCH_PLUGINS=method:NAME=module:Class`` from the folder that holds ``module.py``, through the
    real console script (whose sys.path starts with its bin folder, not the current directory)."""
    import os
    import subprocess

    (tmp_path / "my_cwd_plugin.py").write_text(
        "from baselines.stable_diffusion import StableDiffusionMethod\n\n\n"
        "class CwdMethod(StableDiffusionMethod):\n    pass\n")
    exe = Path(sys.executable).with_name("emobench")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["EMOBENCH_PLUGINS"] = "method:from-cwd=my_cwd_plugin:CwdMethod"
    res = subprocess.run([str(exe), "list", "methods"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    line = next((ln for ln in res.stdout.splitlines() if "from-cwd" in ln), "")
    assert line and "fail" not in line.lower(), res.stdout + res.stderr


def test_polarity_is_a_public_api():
    from emobench.emotions import EMOTIONS, NEGATIVE, POSITIVE, polarity

    assert POSITIVE | NEGATIVE == set(EMOTIONS) and not POSITIVE & NEGATIVE
    assert NEGATIVE == {"anger", "disgust", "fear", "sadness"}
    assert [polarity(e) for e in EMOTIONS] == [1, 1, 1, 1, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="not one of the eight emotions"):
        polarity("happiness")
