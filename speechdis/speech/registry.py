"""The speech models by ``model.kind``: one :class:`~speechdis.registry.ModelSpec` each in :data:`SPEECH_MODELS`.

Adding a speech model = one file (``speechdis/speech/<name>.py``: an ``nn.Module`` built from
:class:`~speechdis.speech.models.ModelConfig` with ``embed(x, lengths, keys)`` returning ``{vector: (B, dim)}``
and ``forward(x, lengths, partner=None)`` returning those plus ``reconstruction`` and ``target``) + one
``SPEECH_MODELS.register(ModelSpec(...))`` below. Training, model files, ``load_model``, extraction, search and
evaluation then know its vectors and their roles from the spec.

Torch-free (the specs name their classes as :class:`~speechdis.registry.Ref`), so which vector plays which
role can be read without loading torch (``speechdis search`` on an archive).
"""
from __future__ import annotations

from typing import Sequence

from speechdis.errors import ConfigError
from speechdis.registry import ROLES, ModelSpec, Ref, Registry

__all__ = ["SPEECH_MODELS", "speech_spec", "vector_roles"]

SPEECH_MODELS = Registry("speech")

SPEECH_MODELS.register(ModelSpec(
    name="disentangled", family="speech",
    description="phonetic encoder E_p and speaker encoder E_s feeding one decoder; speaker critic on v_p",
    config_cls=Ref("speechdis.speech.models:ModelConfig"),
    build=Ref("speechdis.speech.models:DisentangledAutoencoder"),
    vectors={"phonetic": "phonetic_dim", "speaker": "speaker_dim"},
    roles={"phonetic": "phonetic", "speaker": "speaker"},
    critic=True))

SPEECH_MODELS.register(ModelSpec(
    name="baseline", family="speech",
    description="Audio Word2Vec: one encoder, one embedding, one decoder (the embedding plays both roles)",
    config_cls=Ref("speechdis.speech.models:ModelConfig"),
    build=Ref("speechdis.speech.models:Seq2SeqAutoencoder"),
    vectors={"embedding": "embed_dim"},
    roles={"phonetic": "embedding", "speaker": "embedding"}))


def speech_spec(kind: str) -> ModelSpec:
    """The spec of speech model ``kind`` (``model.kind``); an unknown kind is a :class:`ConfigError`."""
    return SPEECH_MODELS.get(kind, what="model.kind")


def vector_roles(keys: Sequence[str], roles: Sequence[str] = ROLES, source: str = "") -> dict[str, str]:
    """Which of ``keys`` plays each role (:meth:`Registry.roles_for`); :class:`ConfigError` when they do not tell."""
    found = SPEECH_MODELS.roles_for(keys, roles)
    if found is None:
        where = f"{source}: " if source else ""
        raise ConfigError(f"{where}cannot tell which vector is which among {list(keys)}: name them 'phonetic' and "
                          f"'speaker', or give one vector ('embedding')")
    return found
