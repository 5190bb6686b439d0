"""The final comparison table (:func:`final_table`): the headline numbers of every task side by side.

Moved out of :mod:`speechdis.eval.runner` (which re-exports it). It reads the typed task results by field.
"""
from __future__ import annotations

from typing import Sequence

from speechdis.eval.embedding import ModelVectors
from speechdis.eval.tasks.probes import ProbeResult
from speechdis.eval.tasks.speaker import SpeakerResult
from speechdis.eval.tasks.std import StdResult

__all__ = ["FINAL_COLUMNS", "final_table", "format_final_tables"]


# ------------------------------------------------------------------------------------------------ all
FINAL_COLUMNS = ["system", "queries", "MAP", "P@10", "x-spk MAP", "x-spk P@10", "same-diff AP", "EER",
                 "spk probe (phon/emb)", "spk probe (spk)", "word probe (phon)", "search s", "embed s"]


def final_table(std: StdResult, speaker: SpeakerResult | None, probes: ProbeResult | None,
                models: Sequence[ModelVectors]) -> list[dict]:
    """Rows DTW / each model (and chance for the probes): the headline numbers side by side."""
    rows = []
    seg, sd, cross = std.segment_qbe, std.same_different, std.cross_speaker
    k_key = std.k_key

    def xspk(name: str) -> dict:
        c = cross.get(name, {})
        return {"x-spk MAP": c.get("MAP"), "x-spk P@10": c.get(k_key)}

    if "DTW" in seg:
        d = seg["DTW"]
        rows.append({"system": "DTW", "queries": d["n_queries"], "MAP": d["MAP"], "P@10": d.get(k_key), **xspk("DTW"),
                     "same-diff AP": sd["DTW"]["AP"], "search s": d["search_seconds"]})

    def probe(model: str, target: str, source: str) -> float | None:
        return probes.accuracy(model, target, source) if probes is not None else None

    for m in models:
        searched = seg.get(m.name, {})  # speaker encoders are not searched
        rows.append({
            "system": m.name, "queries": searched.get("n_queries"), "MAP": searched.get("MAP"),
            "P@10": searched.get(k_key),
            **(xspk(m.name) if searched else {}), "same-diff AP": sd.get(m.name, {}).get("AP"),
            "EER": speaker.eer(m.name, m.roles["speaker"]) if speaker is not None else None,
            "spk probe (phon/emb)": probe(m.name, "speaker", m.roles["phonetic"]),
            "spk probe (spk)": probe(m.name, "speaker", m.roles["speaker"]),
            "word probe (phon)": probe(m.name, "word", m.roles["phonetic"]),
            "search s": searched.get("search_seconds"), "embed s": m.embed_seconds,
        })
    if probes is not None and probes.rows:
        chance = probes.chance()
        rows.append({"system": "chance", "spk probe (phon/emb)": chance.get("speaker"),
                     "spk probe (spk)": chance.get("speaker"), "word probe (phon)": chance.get("word")})
    if speaker is not None:
        # EER of the phonetic vectors of disentangled models: the number that should be poor.
        for m in models:
            if m.roles["phonetic"] != m.roles["speaker"]:
                e = speaker.eer(m.name, m.roles["phonetic"])
                if e is not None:
                    rows.append({"system": f"{m.name} (phonetic as speaker)", "EER": e})
    # Every row with every column (None = not applicable), so tables line up in JSON and Markdown.
    return [{c: r.get(c) for c in FINAL_COLUMNS} for r in rows]


# The console form of the final table: two tables that fit 120 columns, rates as percentages.
_STD_VIEW = [("system", "system"), ("queries", "queries"), ("MAP", "MAP %"), ("P@10", "P@10 %"),
             ("x-spk MAP", "x-spk MAP %"), ("x-spk P@10", "x-spk P@10 %"), ("same-diff AP", "same-diff AP %"),
             ("search s", "search s"), ("embed s", "embed s")]
_SPK_VIEW = [("system", "system"), ("EER", "EER %"), ("spk probe (phon/emb)", "spk probe phon/emb %"),
             ("spk probe (spk)", "spk probe spk %"), ("word probe (phon)", "word probe phon %")]
_PERCENT = {"MAP", "P@10", "x-spk MAP", "x-spk P@10", "same-diff AP", "EER", "spk probe (phon/emb)",
            "spk probe (spk)", "word probe (phon)"}


def _view(rows: Sequence[dict], view: list[tuple[str, str]], needs: Sequence[str]) -> str:
    from speechdis.eval.report import format_table

    def cell(key: str, v):
        if v is None:
            return None
        if key in _PERCENT:
            return f"{100 * v:.1f}"
        if key.endswith(" s"):
            return f"{v:.2f}" if v < 100 else f"{v:.0f}"
        return v

    # Rows without any of this table's main numbers (chance in the STD table, DTW in the speaker one) are left out.
    keep = [r for r in rows if any(r.get(k) is not None for k in needs)]
    return format_table([{label: cell(k, r.get(k)) for k, label in view} for r in keep], [lab for _, lab in view])


def format_final_tables(rows: Sequence[dict]) -> str:
    """The final table as two console tables, rates in percent: spoken term detection (MAP, P@10,
    cross-speaker, same-different AP, times) and speaker/probes (EER, probe accuracies, chance)."""
    return ("spoken term detection (x-spk: archive of other speakers only)\n"
            + _view(rows, _STD_VIEW, ["queries", "MAP"])
            + "\n\nspeaker verification and linear probes (speaker probe on phonetic vectors: lower is better)\n"
            + _view(rows, _SPK_VIEW, [k for k, _ in _SPK_VIEW[1:]]))
