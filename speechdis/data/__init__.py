"""Kaldi data dirs, LibriSpeech preparation, word alignments and feature extraction for data dirs."""
from speechdis.data.alignments import (
    AlignedWord,
    alignments_to_word_segments,
    load_alignments,
    read_alignment_txt,
    read_ctm,
    read_textgrid_words,
)
from speechdis.data.corpora.librispeech import PrepareReport, prepare_librispeech
from speechdis.data.datadir import DataDir, fix_data_dir, split_by_speaker, subset_data_dir, train_test_split_speakers
from speechdis.data.featjobs import FeatsReport, make_features
from speechdis.data.feats import FeatsReader
from speechdis.data.tables import Segment, WordSegment
from speechdis.data.validate import check_data_dir, validate_data_dir

__all__ = [
    "AlignedWord", "alignments_to_word_segments", "load_alignments", "read_alignment_txt", "read_ctm",
    "read_textgrid_words", "FeatsReader", "FeatsReport", "make_features", "DataDir", "Segment", "WordSegment",
    "check_data_dir", "fix_data_dir", "split_by_speaker", "subset_data_dir", "train_test_split_speakers",
    "validate_data_dir", "PrepareReport", "prepare_librispeech",
]
