"""The model registry both families share (speechdis.registry): specs, lookup, lazy modules, vector roles."""
import subprocess
import sys

import pytest

from speechdis.errors import ConfigError
from speechdis.registry import ModelSpec, Ref, Registry
from tests.helpers import REPO


def _spec(name="a", family="speech", **kw):
    return ModelSpec(**{"name": name, "family": family, "description": "", "config_cls": dict, "build": dict, **kw})


def test_unknown_names_list_the_known_ones_and_names_register_once():
    reg = Registry("speech")
    reg.register(_spec("a"))
    reg.register(_spec("b"))
    assert reg.names() == ("a", "b") and "a" in reg and "c" not in reg
    with pytest.raises(ConfigError, match=r"unknown model\.kind 'c'; expected one of a, b"):
        reg.get("c", what="model.kind")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register(_spec("a"))
    with pytest.raises(ValueError, match="image model"):
        reg.register(_spec("i", family="image"))


def test_roles_must_name_the_specs_own_vectors():
    with pytest.raises(ValueError, match="roles"):
        _spec(vectors={"v": "dim"}, roles={"phonetic": "w"})
    with pytest.raises(ValueError, match="roles"):
        _spec(vectors={"v": "dim"}, roles={"accent": "v"})
    s = _spec(vectors={"p": "pd", "s": "sd"}, roles={"phonetic": "p", "speaker": "s"})
    assert s.disentangled and not _spec(vectors={"e": "d"}, roles={"phonetic": "e", "speaker": "e"}).disentangled


def test_roles_for_keys_follow_the_registered_models_then_a_lone_vector():
    reg = Registry("speech")
    reg.register(_spec("d", vectors={"phonetic": "x", "speaker": "y"},
                       roles={"phonetic": "phonetic", "speaker": "speaker"}))
    reg.register(_spec("b", vectors={"embedding": "x"}, roles={"phonetic": "embedding", "speaker": "embedding"}))
    assert reg.roles_for(["speaker", "phonetic", "extra"]) == {"phonetic": "phonetic", "speaker": "speaker"}
    assert reg.roles_for(["embedding", "speaker"]) == {"phonetic": "embedding", "speaker": "embedding"}
    assert reg.roles_for(["mine"]) == {"phonetic": "mine", "speaker": "mine"}
    assert reg.roles_for(["phonetic", "other"]) is None  # no speaker vector among them
    assert reg.roles_for(["phonetic", "other"], ("phonetic",)) == {"phonetic": "phonetic"}
    assert reg.roles_for(["a", "b"], ("phonetic",)) is None


def test_lazy_modules_are_imported_on_first_lookup_and_must_define_their_name():
    reg = Registry("image", {"infogan": "speechdis.image.infogan", "wrong": "speechdis.image.vaegan"})
    assert reg.get("infogan").name == "infogan" and reg.get("infogan").family == "image"
    with pytest.raises(ValueError, match="vaegan"):
        reg.get("wrong")


def test_ref_imports_its_target_when_used():
    r = Ref("collections:OrderedDict")
    assert r(a=1) == {"a": 1} and r.resolve().__name__ == "OrderedDict"
    assert _spec(config_cls=r).config_type is r.resolve()
    with pytest.raises(ValueError, match="module:attr"):
        Ref("collections.OrderedDict")


def test_reading_vector_roles_does_not_import_torch():
    code = ("import sys; from speechdis.speech.registry import SPEECH_MODELS, vector_roles; "
            "from speechdis.eval.search import pick_vector; "
            "assert vector_roles(['embedding'])['speaker'] == 'embedding'; "
            "assert pick_vector(['speaker', 'phonetic'], None, 'x') == 'phonetic'; "
            "assert [s.name for s in SPEECH_MODELS.specs()][:2] == ['disentangled', 'baseline']; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
