"""Audio loading (soundfile, pipes, segments), resampling, features (MFCC/fbank + deltas) and CMVN."""
from speechdis.audio.features import (
    FeatureConfig,
    add_deltas,
    apply_cmvn,
    cmvn,
    cmvn_stats,
    compute_features,
    load_feature_config,
    mel_filterbank,
    num_frames,
    save_feature_config,
    segment_frames,
)
from speechdis.audio.io import WavEntryLoader, audio_info, is_pipe_entry, load_audio, load_wav_entry, resample

__all__ = [
    "FeatureConfig", "add_deltas", "apply_cmvn", "cmvn", "cmvn_stats", "compute_features",
    "load_feature_config", "mel_filterbank", "num_frames", "save_feature_config", "segment_frames",
    "WavEntryLoader", "audio_info", "is_pipe_entry", "load_audio", "load_wav_entry", "resample",
]
