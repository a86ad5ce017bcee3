"""Audio codecs: waveform <-> 64-channel latents (chapter 1, "The Music2Latent codec").

Two codecs share one small interface, so every later chapter works with either:

* :class:`Music2LatentCodec`: the real thing, the ``music2latent`` package's pretrained consistency
  autoencoder (44.1 kHz audio, 64 channels at 44100 / 4096 = 10.77 frames per second).
* :class:`MelCodec`: the offline stand-in that needs no download: a 64-band log-mel spectrogram at
  10.67 frames per second, decoded by librosa's Griffin-Lim.

:func:`load_codec` picks one: ``"auto"`` takes Music2Latent when its weights are on this machine or can
be downloaded, else the mel codec, and says which.
"""

from __future__ import annotations

import os
import threading
import warnings
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch

from .runtime.work import counted
from .runtime.files import fingerprint

M2L_REPO_ID = "SonyCSLParis/music2latent"
M2L_FILENAME = "music2latent.pt"
M2L_WEIGHTS_ENV = "M2L_WEIGHTS"
M2L_HOW_TO_GET = (
    f"Get the Music2Latent weights ({M2L_FILENAME}, about 400 MB, licence CC BY-NC 4.0) on a machine "
    f"with internet, e.g. `huggingface-cli download {M2L_REPO_ID} {M2L_FILENAME}` or "
    f"https://huggingface.co/{M2L_REPO_ID}, then pass its path (`m2l_weights`, or the codec's `checkpoint`) "
    f"or set {M2L_WEIGHTS_ENV}=/path/to/{M2L_FILENAME}. Or use the offline codec: `codec=\"mel\"` (load_codec('mel'))."
)


class Codec(ABC):
    """What every codec offers (shapes: ``latents [channels, frames]``, ``waveform [samples]``)."""

    name: str
    sample_rate: int
    frame_rate: float
    channels: int = 64
    #: True where ``encode`` runs in half precision (Music2Latent on CUDA), which can give NaN; such a codec's
    #: ``encode(..., half_precision=False)`` runs in fp32 (tutorial_lib.data.latents falls back to it).
    half_precision: bool = False

    @property
    @abstractmethod
    def cache_id(self) -> str:
        """A string that changes whenever the codec or its settings change (keys the latent cache)."""

    @abstractmethod
    def encode(self, waveform: np.ndarray, sample_rate: int) -> torch.Tensor:
        """``[samples]`` mono audio at ``sample_rate`` -> ``[channels, frames]`` float32 latents."""

    @abstractmethod
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """``[channels, frames]`` -> ``[samples]`` float32 audio at ``self.sample_rate``."""

    def decode_batch(self, latents: torch.Tensor) -> list[np.ndarray]:
        """``[N, channels, frames]`` -> N float32 waveforms ``[samples]`` (a codec that can, decodes them at once)."""
        return [self.decode(z) for z in latents]

    def describe(self) -> str:
        return f"{self.name} ({self.channels} channels at {self.frame_rate:.2f} frames/s, {self.sample_rate} Hz audio)"

    def _as_mono_at_rate(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        waveform = np.asarray(waveform, dtype=np.float32)
        if waveform.ndim != 1:
            raise ValueError(f"{self.name}.encode expects mono audio [samples], got shape {waveform.shape}; "
                             "average the channels first (tutorial_lib.data.load_note does).")
        if sample_rate != self.sample_rate:
            import librosa

            waveform = librosa.resample(waveform, orig_sr=sample_rate, target_sr=self.sample_rate)
        return waveform


def mel_filter_bank(sample_rate: int, n_fft: int, n_bands: int, fmin: float, fmax: float,
                    break_hz: float = 700.0) -> np.ndarray:
    """``[n_bands, n_fft/2 + 1]`` triangular bands, equally spaced on the scale ``log(1 + f / break_hz)``.

    With ``break_hz=700`` this is HTK's mel scale (``librosa.filters.mel(..., htk=True)``, tested): about
    linear below the break, logarithmic above. A lower break gives more, narrower bands to low frequencies.
    Each band is divided by its width (librosa's "slaney" norm), so a band measures a density.
    """
    lowest, highest = np.log1p(fmin / break_hz), np.log1p(fmax / break_hz)
    edges = break_hz * np.expm1(np.linspace(lowest, highest, n_bands + 2))  # Hz
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising, falling = (freqs - low) / (centre - low), (high - freqs) / (high - centre)
    return np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (high - low))


class MelCodec(Codec):
    """The offline codec: ``log(mel + eps)`` with 64 mel bands, inverted by NNLS + Griffin-Lim.

    With 16 kHz audio, a 4096-point FFT and a hop of 1500 samples it gives 10.67 frames per second,
    close to Music2Latent's 10.77, so 32 frames hold 3 s of sound in both. Bands span 30-4000 Hz on a
    mel scale whose break (where it turns from linear to logarithmic) sits at 200 Hz instead of the usual
    700 Hz (:func:`mel_filter_bank`): the bands lie about 13 Hz apart at a low guitar's 100 Hz instead of
    23-36 Hz, so decoded low notes keep their fundamental far more often: CREPE finds the pitch of 81 % of
    the notes below MIDI 56 after decoding (90 % before), against 67-71 % with the usual scales, which heard
    the rest an octave or a twelfth too high (codec benchmark). The price: bands above 1 kHz about a third
    wider apart, and a log-mel reconstruction error of 2.41 dB instead of 2.18-2.30.

    ``eps`` sets the floor of the log: 1e-3 is about 70 dB below the loudest notes' peaks. A lower floor
    (1e-5) spends half of every channel's range on sound nobody hears, and a generator's small errors
    there, multiplied by ``exp``, came out as clicks and notes 4 times too loud (``benchmarks/bench_recipe.py`` measured both floors).
    """

    name = "mel"

    def __init__(self, sample_rate: int = 16_000, n_fft: int = 4096, hop_length: int = 1500,
                 fmin: float = 30.0, fmax: float = 4000.0, break_hz: float = 200.0, griffin_lim_iters: int = 32,
                 nnls_iters: int = 50, eps: float = 1e-3):
        self.sample_rate, self.n_fft, self.hop_length = sample_rate, n_fft, hop_length
        self.fmin, self.fmax, self.break_hz, self.eps = fmin, fmax, break_hz, eps
        self.griffin_lim_iters, self.nnls_iters = griffin_lim_iters, nnls_iters
        self.frame_rate = sample_rate / hop_length
        self.basis = mel_filter_bank(sample_rate, n_fft, self.channels, fmin, fmax, break_hz)  # [64, n_fft/2 + 1]
        self.basis_pinv = np.linalg.pinv(self.basis)
        covered = np.nonzero(self.basis.any(axis=0))[0]  # FFT bins inside some band (30-4000 Hz)
        self.band_bins = slice(covered[0], covered[-1] + 1)
        self.band_basis = (np.ascontiguousarray(self.basis[:, self.band_bins]),
                           np.ascontiguousarray(self.basis_pinv[self.band_bins]))

    @property
    def cache_id(self) -> str:
        return (f"mel-sr{self.sample_rate}-fft{self.n_fft}-hop{self.hop_length}-"
                f"f{self.fmin:g}-{self.fmax:g}-break{self.break_hz:g}-n{self.channels}-eps{self.eps:g}")

    @counted("encode mel")
    def encode(self, waveform: np.ndarray, sample_rate: int) -> torch.Tensor:
        import librosa

        waveform = self._as_mono_at_rate(waveform, sample_rate)
        magnitude = np.abs(librosa.stft(waveform, n_fft=self.n_fft, hop_length=self.hop_length))
        mel = self.basis @ magnitude  # [64, frames]
        return torch.from_numpy(np.log(mel + self.eps).astype(np.float32))

    def describe(self) -> str:
        return (f"{self.name} ({self.channels} bands {self.fmin:g}-{self.fmax:g} Hz, mel break {self.break_hz:g} Hz, "
                f"at {self.frame_rate:.2f} frames/s, {self.sample_rate} Hz audio)")

    def mel_to_magnitude(self, mel: np.ndarray) -> np.ndarray:
        """``[..., 64, frames]`` mel magnitudes -> ``[..., n_fft/2 + 1, frames]`` non-negative STFT magnitudes.

        Solves ``basis @ S ~ mel`` for ``S >= 0`` with Lee & Seung's multiplicative updates, started from
        the clipped pseudo-inverse. librosa's ``mel_to_stft`` solves the same problem with L-BFGS-B, which
        takes 2-10 s per note here; 50 updates take 0.05 s and keep the pitch as well (codec benchmark).
        """
        basis, inverse = self.band_basis  # only the FFT bins some band covers: the others stay 0
        magnitude = np.maximum(inverse @ mel, 0.0) + 1e-10
        numerator = basis.T @ mel
        for _ in range(self.nnls_iters):
            magnitude *= numerator / (basis.T @ (basis @ magnitude) + 1e-12)
        full = np.zeros((*mel.shape[:-2], self.basis.shape[1], mel.shape[-1]))
        full[..., self.band_bins, :] = magnitude
        return full

    @counted("decode mel")
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """``[64, frames]`` -> ``[samples]`` float32 audio (a batch ``[N, 64, frames]`` -> ``[N, samples]``)."""
        log_mel = torch.as_tensor(latents).detach().cpu().double().numpy()
        with np.errstate(over="ignore", invalid="ignore"):
            stft_magnitude = self.mel_to_magnitude(np.maximum(np.exp(log_mel) - self.eps, 0.0))
        if not np.isfinite(stft_magnitude).all():
            raise FloatingPointError(f"log-mel values up to {np.nanmax(log_mel):.3g} decode to infinite loudness; a "
                                     "full-scale sine's stay under 5")
        audio = griffin_lim(stft_magnitude, n_iter=self.griffin_lim_iters, hop_length=self.hop_length,
                            n_fft=self.n_fft)
        return audio.astype(np.float32)

    def decode_batch(self, latents: torch.Tensor, chunk: int = 32) -> list[np.ndarray]:
        """``[N, 64, frames]`` -> N waveforms, ``chunk`` notes at a time (each note exactly as :meth:`decode`
        makes it alone; in batches about 3.5 times faster than one by one)."""
        return [audio for start in range(0, len(latents), chunk) for audio in self.decode(latents[start:start + chunk])]


def griffin_lim(magnitude: np.ndarray, *, n_iter: int, hop_length: int, n_fft: int,
                momentum: float = 0.99) -> np.ndarray:
    """Fast Griffin-Lim as ``librosa.griffinlim(..., random_state=0)`` computes it, for a batch: STFT magnitudes
    ``[..., n_fft/2 + 1, frames]`` -> audio ``[..., samples]``.

    librosa draws the starting phases of a whole batch at once, so a note would sound different alone and in a
    batch; here every note starts from the phases librosa draws for one note, so a batch gives, bit for bit, what
    librosa gives each note alone (tests/test_codec.py), at a fraction of the cost of one call per note.
    """
    import librosa

    start = np.random.RandomState(0).random(size=magnitude.shape[-2:])  # librosa's draw for one note
    angles = magnitude * np.exp(2j * np.pi * start)
    eps, previous = librosa.util.tiny(angles), None
    for _ in range(n_iter):
        rebuilt = librosa.stft(librosa.istft(angles, hop_length=hop_length, n_fft=n_fft), hop_length=hop_length,
                               n_fft=n_fft)
        angles = rebuilt if previous is None else rebuilt - (momentum / (1 + momentum)) * previous
        angles = magnitude * angles / (np.abs(angles) + eps)
        previous = rebuilt
    return librosa.istft(angles, hop_length=hop_length, n_fft=n_fft)


def _read_m2l_file(path: Path):
    """``torch.load`` of Music2Latent's weights; a file it cannot read (an HTML error page saved as the file, a
    cut download, an empty or zeroed file) raises ``ValueError`` naming it and what to do."""
    import pickle
    import zipfile

    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (pickle.UnpicklingError, EOFError, RuntimeError, KeyError, IndexError, ValueError, UnicodeDecodeError,
            zipfile.BadZipFile) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:100]
        raise ValueError(f"{path} cannot be read as Music2Latent's weights ({reason}): a damaged or cut download, "
                         f"or a web page saved under its name. Download it again. {M2L_HOW_TO_GET}") from None


def find_m2l_weights(checkpoint: str | os.PathLike | None = None) -> Path | None:
    """Where Music2Latent's weights are on this machine, without any network access (None if nowhere).

    Looks at ``checkpoint``, then ``$M2L_WEIGHTS``, then where the ``music2latent`` package keeps its
    download, then the Hugging Face cache.
    """
    if checkpoint is not None:
        return Path(checkpoint) if Path(checkpoint).is_file() else None
    if os.environ.get(M2L_WEIGHTS_ENV):
        path = Path(os.environ[M2L_WEIGHTS_ENV])
        return path if path.is_file() else None
    try:
        from music2latent.hparams_inference import load_path_inference_default

        if Path(load_path_inference_default).is_file():
            return Path(load_path_inference_default)
    except ImportError:
        pass
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(M2L_REPO_ID, M2L_FILENAME)
    return Path(cached) if isinstance(cached, str) else None


def hub_reachable(timeout: float | None = None) -> bool:
    """True when the Hugging Face hub answers an HTTP request for Music2Latent's weights within ``timeout``.

    Uses the hub client's own settings: its endpoint (``HF_ENDPOINT``, a mirror or a proxy), its offline mode
    (``HF_HUB_OFFLINE``, also read now, so that setting it in a running notebook counts) and, by default, its
    own timeout for such a request (``HF_HUB_ETAG_TIMEOUT``, 10 s: a first connection in a fresh Colab
    session, DNS and TLS included, can take seconds). Any HTTP answer counts, an error status included.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        return False
    url = f"{constants.ENDPOINT.rstrip('/')}/{M2L_REPO_ID}/resolve/main/{M2L_FILENAME}"
    timeout = getattr(constants, "HF_HUB_ETAG_TIMEOUT", 10) if timeout is None else timeout
    result = []

    def probe():
        try:
            get_session().head(url, timeout=timeout)  # redirects not followed (requests' and httpx's default)
            result.append(True)
        except Exception:  # no answer: DNS, connection, TLS or timeout (the client's exceptions vary by version)
            pass

    thread = threading.Thread(target=probe, daemon=True)  # a hung DNS lookup cannot hold the caller longer
    thread.start()
    thread.join(timeout + 1)
    return bool(result)


def download_m2l_weights() -> Path:
    """Downloads the weights where the ``music2latent`` package looks for them; fails fast offline."""
    if not hub_reachable():
        from huggingface_hub import constants

        raise FileNotFoundError(f"Music2Latent weights not found and the hub ({constants.ENDPOINT}) is not reachable "
                                f"or HF_HUB_OFFLINE is set. {M2L_HOW_TO_GET}")
    from huggingface_hub import hf_hub_download
    from music2latent.hparams_inference import load_path_inference_default

    models_dir = Path(load_path_inference_default).parent
    models_dir.mkdir(parents=True, exist_ok=True)
    return Path(hf_hub_download(repo_id=M2L_REPO_ID, filename=M2L_FILENAME, local_dir=models_dir))


def _names(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def load_m2l_weights(gen: torch.nn.Module, state_dict: dict, path: Path) -> list[str]:
    """Loads ``state_dict`` into Music2Latent's network ``gen`` as the ``music2latent`` package does
    (``strict=False``); returns the file's entries the network does not use (printed, then ignored).

    Refuses (ValueError naming them) what the network cannot run without: a parameter the file lacks would
    keep its random value, and a random part of an autoencoder decodes near-silence; a parameter of another
    shape belongs to another network. (Every entry of the network's state is a learned parameter: it has no
    buffers a constructor could fill in.)
    """
    own = gen.state_dict()
    reshaped = [f"{k} {tuple(v.shape)} (the network: {tuple(own[k].shape)})" for k, v in state_dict.items()
                if k in own and hasattr(v, "shape") and tuple(v.shape) != tuple(own[k].shape)]
    if reshaped:
        raise ValueError(f"{path}: {len(reshaped)} weights have another shape than Music2Latent's network: "
                         f"{_names(reshaped)}. A different model or version; {M2L_HOW_TO_GET}")
    missing, unexpected = gen.load_state_dict(state_dict, strict=False)
    if missing:
        instead = f" It holds instead, unused: {_names(list(unexpected))}." if unexpected else ""
        raise ValueError(f"{path} lacks {len(missing)} of the {len(own)} weights of Music2Latent's network: "
                         f"{_names(list(missing))}. Those parts would keep random values (the package's own loader "
                         f"would run them so, silently).{instead} A different model or a damaged file: "
                         f"download it again. {M2L_HOW_TO_GET}")
    if unexpected:
        print(f"{path}: {len(unexpected)} entries that Music2Latent's network does not use, ignored as the "
              f"music2latent package ignores them: {_names(list(unexpected))}.")
    return list(unexpected)


def weights_id(path: Path) -> str:
    """``m2l-<size>-<hash of the first and last MiB>``: the same for every download of the same file (a new
    Colab session downloads the weights again, with a new file time), so latents cached on Drive still match."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(1 << 20)
        f.seek(max(0, size - (1 << 20)))
        tail = f.read()
    return f"m2l-{size}-{fingerprint(head + tail, length=12)}"


_PACKAGE_PRECISION = threading.Lock()  # music2latent's precision is a module global: one encode sets it at a time


class Music2LatentCodec(Codec):
    """Music2Latent with its pretrained weights, through the package's own inference functions.

    Args:
        checkpoint: path to ``music2latent.pt``; by default found locally or downloaded.
        device: ``"cuda"``, ``"cpu"``...; by default CUDA when available.
        denoising_steps: consistency-decoder steps (1 is the package's default).
    """

    name = "music2latent"
    sample_rate = 44_100
    frame_rate = 44_100 / 4096

    def __init__(self, checkpoint: str | os.PathLike | None = None, device: str | None = None,
                 denoising_steps: int = 1):
        path = find_m2l_weights(checkpoint)
        if path is None and checkpoint is not None:
            raise FileNotFoundError(f"No Music2Latent checkpoint at {checkpoint}. {M2L_HOW_TO_GET}")
        if path is None:
            path = download_m2l_weights()
        from music2latent.models import UNet

        state = _read_m2l_file(path)
        if not isinstance(state, dict) or "gen_state_dict" not in state:
            raise ValueError(f"{path} is not a Music2Latent checkpoint (no 'gen_state_dict'). {M2L_HOW_TO_GET}")
        gen = UNet()
        self.unexpected_keys = load_m2l_weights(gen, state["gen_state_dict"], path)
        self._use(gen, device, denoising_steps, path)

    def _use(self, gen: torch.nn.Module, device: str | None, denoising_steps: int, checkpoint: Path | None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.half_precision = self.device.type == "cuda"  # the package's fp16 autocast works on CUDA only
        self.denoising_steps = denoising_steps
        self.checkpoint = checkpoint
        self.gen = gen.to(self.device).eval()

    @classmethod
    def with_random_weights(cls, device: str | None = "cpu", seed: int = 0) -> "Music2LatentCodec":
        """The package's real architecture, randomly initialised (no download).

        Good for shapes and parameter counts only: it decodes to near-silence whatever the latents.
        """
        from music2latent.models import UNet

        torch.manual_seed(seed)
        codec = cls.__new__(cls)
        codec.name = "music2latent (random weights, cannot make sound)"
        codec._use(UNet(), device, 1, None)
        return codec

    @property
    def cache_id(self) -> str:
        if self.checkpoint is None:
            return "m2l-random-weights"
        return weights_id(Path(self.checkpoint))

    @counted("encode music2latent")
    def encode(self, waveform: np.ndarray, sample_rate: int, *, half_precision: bool | None = None) -> torch.Tensor:
        """As :meth:`Codec.encode`; ``half_precision`` (default: ``self.half_precision``, True on CUDA) runs the
        package's encoder under its fp16 autocast, which its own comment says can give NaN; False runs fp32."""
        import music2latent.inference as m2l

        audio = torch.from_numpy(self._as_mono_at_rate(waveform, sample_rate))
        half = self.half_precision if half_precision is None else half_precision
        with _PACKAGE_PRECISION, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*CUDA is not available.*")
            saved, m2l.mixed_precision = m2l.mixed_precision, half  # the package's switch for its autocast
            try:
                latents = m2l.encode_audio_inference(audio, self, 44_100 * 60, 1, device=self.device)
            finally:
                m2l.mixed_precision = saved
        return latents[0].float().cpu()  # [1, 64, frames] -> [64, frames]

    @counted("decode music2latent")
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        from music2latent.inference import decode_latent_inference

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*CUDA is not available.*")
            audio = decode_latent_inference(torch.as_tensor(latents).float(), self, 44_100 * 60, 1,
                                            diffusion_steps=self.denoising_steps, device=self.device)
        return torch.as_tensor(audio).float().cpu().numpy().reshape(-1)


CODEC_NAMES = ("auto", "m2l", "mel")  # what a reader types (--codec, a profile's codec)
#: Each codec's own ``name``, which checkpoints and latent spaces record, -> its short name above.
RECORDED_NAMES = {Music2LatentCodec.name: "m2l", MelCodec.name: "mel"}


def load_codec(name: str = "auto", checkpoint: str | os.PathLike | None = None, device: str | None = None,
               verbose: bool = True) -> Codec:
    """``"m2l"``, ``"mel"`` or ``"auto"`` (Music2Latent when its weights are available, else mel); also a
    codec's recorded ``name`` (``"music2latent"``, ``"mel"``), as a checkpoint's latent space stores it."""
    if name.startswith(f"{Music2LatentCodec.name} (random weights"):
        raise ValueError(f"Codec {name!r}: these latents came from Music2Latent with random weights, which "
                         "decode to near-silence; train on latents of the real weights (codec 'm2l') or of 'mel'.")
    name = RECORDED_NAMES.get(name, name)
    if name not in CODEC_NAMES:
        raise ValueError(f"Unknown codec {name!r}: choose one of {', '.join(CODEC_NAMES)} "
                         f"(or a recorded name: {', '.join(RECORDED_NAMES)}).")
    if name == "mel":
        codec: Codec = MelCodec()
    elif name == "m2l":
        codec = Music2LatentCodec(checkpoint, device)
    elif find_m2l_weights(checkpoint) is not None or (checkpoint is None and hub_reachable()):
        codec = Music2LatentCodec(checkpoint, device)
    else:
        codec = MelCodec()
        if verbose:
            print("Music2Latent weights are not on this machine and the hub is out of reach: "
                  "using the offline mel codec.")
    if verbose:
        print(f"Codec: {codec.describe()}")
    return codec
