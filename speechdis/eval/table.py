"""The final comparison table (:func:`final_table`): the headline numbers of every task side by side.

Moved out of :mod:`speechdis.eval.runner` (which re-exports it).
"""
from __future__ import annotations

from typing import Sequence

from speechdis.eval.embedding import ModelVectors

__all__ = ["FINAL_COLUMNS", "final_table"]


# ------------------------------------------------------------------------------------------------ all
FINAL_COLUMNS = ["system", "queries", "MAP", "P@10", "x-spk MAP", "x-spk P@10", "same-diff AP", "EER",
                 "spk probe (phon/emb)", "spk probe (spk)", "word probe (phon)", "search s", "embed s"]


def final_table(std: dict, speaker: dict | None, probes: dict | None, models: Sequence[ModelVectors]
                ) -> list[dict]:
    """Rows DTW / each model (and chance for the probes): the headline numbers side by side."""
    rows = []
    seg, sd = std["segment_qbe"], std["same_different"]
    cross = std.get("segment_qbe_cross_speaker", {})

    def xspk(name: str) -> dict:
        c = cross.get(name, {})
        return {"x-spk MAP": c.get("MAP"), "x-spk P@10": c.get(k_key)}

    k_key = next((k for k in next(iter(seg.values())) if k.startswith("P@") and k != "P@R"), "P@10")
    if "DTW" in seg:
        d = seg["DTW"]
        rows.append({"system": "DTW", "queries": d["n_queries"], "MAP": d["MAP"], "P@10": d.get(k_key), **xspk("DTW"),
                     "same-diff AP": sd["DTW"]["AP"], "search s": d["search_seconds"]})
    probe_rows = (probes or {}).get("probes", [])

    def probe(model: str, target: str, source: str) -> float | None:
        for r in probe_rows:
            if r["model"] == model and r["target"] == target and r["from"] == source:
                return r["accuracy"]
        return None

    for m in models:
        ver = (speaker or {}).get("verification", {})
        eer_key = f"{m.name}/{m.roles['speaker']}"
        searched = seg.get(m.name, {})  # speaker encoders are not searched
        rows.append({
            "system": m.name, "queries": searched.get("n_queries"), "MAP": searched.get("MAP"),
            "P@10": searched.get(k_key),
            **(xspk(m.name) if searched else {}), "same-diff AP": sd.get(m.name, {}).get("AP"),
            "EER": ver.get(eer_key, {}).get("EER"),
            "spk probe (phon/emb)": probe(m.name, "speaker", m.roles["phonetic"]),
            "spk probe (spk)": probe(m.name, "speaker", m.roles["speaker"]),
            "word probe (phon)": probe(m.name, "word", m.roles["phonetic"]),
            "search s": searched.get("search_seconds"), "embed s": m.embed_seconds,
        })
    if probe_rows:
        chance = {r["target"]: r["chance"] for r in probe_rows}
        rows.append({"system": "chance", "spk probe (phon/emb)": chance.get("speaker"),
                     "spk probe (spk)": chance.get("speaker"), "word probe (phon)": chance.get("word")})
    if speaker is not None:
        # EER of the phonetic vectors of disentangled models: the number that should be poor.
        for m in models:
            if m.roles["phonetic"] != m.roles["speaker"]:
                e = speaker["verification"].get(f"{m.name}/{m.roles['phonetic']}", {}).get("EER")
                if e is not None:
                    rows.append({"system": f"{m.name} (phonetic as speaker)", "EER": e})
    # Every row with every column (None = not applicable), so tables line up in JSON and Markdown.
    return [{c: r.get(c) for c in FINAL_COLUMNS} for r in rows]
