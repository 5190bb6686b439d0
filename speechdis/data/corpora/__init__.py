"""Corpus preparations: a corpus on disk → Kaldi data dirs (``prepare_X()`` functions) and a report."""
from speechdis.data.corpora.common import CorpusReport, SkippedFile, SplitCounts
from speechdis.data.corpora.fsdd import prepare_fsdd
from speechdis.data.corpora.librispeech import PrepareReport, prepare_librispeech
from speechdis.data.corpora.speechcommands import prepare_speechcommands, speaker_split
from speechdis.data.corpora.speechocean762 import prepare_speechocean762

__all__ = ["CorpusReport", "SkippedFile", "SplitCounts", "prepare_fsdd", "prepare_speechcommands", "speaker_split",
           "PrepareReport", "prepare_librispeech", "prepare_speechocean762"]
