import hashlib
import http.server
import threading
import zipfile

import pytest

from tutorial_lib.data import download_nsynth_guitar, list_notes
from tutorial_lib.data.download import DONE_MARKER, PUBLISHED_SHA256, ChecksumError

from .test_nsynth import write_note


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A static server that honours `Range: bytes=N-` (as GitHub's media host does) and counts requests."""

    requests = []

    def log_message(self, *args):
        pass

    def send_head(self):
        RangeHandler.requests.append((self.command, self.path, self.headers.get("Range")))
        range_header = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not range_header:
            return super().send_head()
        data = open(path, "rb").read()
        start = int(range_header.split("=")[1].split("-")[0])
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        import io

        return io.BytesIO(data[start:])


def sha256_of(served) -> dict[str, str]:
    """What the repository publishes for its parts, here for the test's own served archive."""
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in served.glob("*.zip")}


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    dataset = tmp_path / "build" / "NSYNTH_GUITAR_MP3"
    for split in ("train", "valid"):
        for i in range(2):
            write_note(dataset / f"nsynth-guitar-{split}" / f"guitar_acoustic_{i + (5 if split == 'valid' else 0):03d}-060-075.mp3",
                       seconds=1.0, fmt="MP3")
    served.mkdir()
    with zipfile.ZipFile(served / "NSYNTH_GUITAR_MP3.zip", "w") as zf:
        for f in dataset.rglob("*.mp3"):
            zf.write(f, f.relative_to(dataset.parent))
    (served / "NSYNTH_GUITAR_MP3.txt").write_text("NSYNTH_GUITAR_MP3.zip\n")
    handler = lambda *a, **k: RangeHandler(*a, directory=str(served), **k)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    RangeHandler.requests = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()


def test_download_unpacks_marks_done_and_reads_as_nsynth(server, tmp_path):
    url, served = server
    target = download_nsynth_guitar(tmp_path / "data", raw_url=url, media_url=url, progress=False,
                                    sha256=sha256_of(served))
    assert (target / DONE_MARKER).is_file()
    assert len(list_notes(target, "train").notes) == 2 and len(list_notes(target, "valid").notes) == 2
    assert not list((tmp_path / "data").glob("*.zip"))  # the archive is removed once unpacked
    count = len(RangeHandler.requests)
    download_nsynth_guitar(tmp_path / "data", raw_url=url, media_url=url, progress=False, sha256=sha256_of(served))
    assert len(RangeHandler.requests) == count  # done: nothing fetched again


def test_interrupted_download_resumes_with_range(server, tmp_path):
    url, served = server
    dest = tmp_path / "data"
    dest.mkdir()
    whole = (served / "NSYNTH_GUITAR_MP3.zip").read_bytes()
    (dest / "NSYNTH_GUITAR_MP3.zip.part").write_bytes(whole[:1000])
    download_nsynth_guitar(dest, raw_url=url, media_url=url, progress=False, sha256=sha256_of(served))
    assert ("GET", "/NSYNTH_GUITAR_MP3.zip", "bytes=1000-") in RangeHandler.requests
    assert len(list_notes(dest / "NSYNTH_GUITAR_MP3", "train").notes) == 2


def test_damaged_archive_is_deleted_with_a_clear_error(server, tmp_path):
    url, served = server
    (served / "NSYNTH_GUITAR_MP3.zip").write_bytes(b"this is not a zip" * 100)
    with pytest.raises(OSError, match="not a valid zip.*Run the download again"):
        download_nsynth_guitar(tmp_path / "data", raw_url=url, media_url=url, progress=False,
                               sha256=sha256_of(served))
    assert not (tmp_path / "data" / "NSYNTH_GUITAR_MP3.zip").exists()


def test_offline_download_says_it_needs_internet_and_how_to_use_a_copy(tmp_path):
    from tutorial_lib.data.download import OfflineError

    with pytest.raises(OfflineError, match="needs internet, and 127.0.0.1:9 cannot be reached") as error:
        download_nsynth_guitar(tmp_path / "data", raw_url="http://127.0.0.1:9", media_url="http://127.0.0.1:9",
                               progress=False)
    assert "`data=\"/path/to/NSYNTH_GUITAR_MP3\"`" in str(error.value)


def test_a_part_of_the_right_size_but_other_content_is_refused_and_only_it_deleted(server, tmp_path):
    url, served = server
    published = sha256_of(served)
    archive = served / "NSYNTH_GUITAR_MP3.zip"
    good = archive.read_bytes()
    archive.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])  # one byte changed, same size
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "mine.txt").write_text("the reader's own file")
    with pytest.raises(ChecksumError, match=r"NSYNTH_GUITAR_MP3.zip: its sha256 is [0-9a-f]{64}, but the published "
                                            r"one is [0-9a-f]{64}.*It was deleted: run the download again"):
        download_nsynth_guitar(dest, raw_url=url, media_url=url, progress=False, sha256=published)
    assert sorted(p.name for p in dest.iterdir()) == ["mine.txt"]  # the bad part gone, nothing else touched
    archive.write_bytes(good)  # the host serves the right file again: the next try succeeds from scratch
    target = download_nsynth_guitar(dest, raw_url=url, media_url=url, progress=False, sha256=published)
    assert (target / DONE_MARKER).is_file() and (dest / "mine.txt").is_file()


def test_a_wrong_part_already_there_is_named_but_not_deleted(server, tmp_path):
    url, served = server
    published = sha256_of(served)
    dest = tmp_path / "data"
    dest.mkdir()
    size = (served / "NSYNTH_GUITAR_MP3.zip").stat().st_size
    (dest / "NSYNTH_GUITAR_MP3.zip").write_bytes(b"x" * size)  # not made by this call
    with pytest.raises(ChecksumError, match="Delete .*NSYNTH_GUITAR_MP3.zip and run the download again"):
        download_nsynth_guitar(dest, raw_url=url, media_url=url, progress=False, sha256=published)
    assert (dest / "NSYNTH_GUITAR_MP3.zip").is_file()


def test_by_default_the_archive_is_checked_against_the_published_sha256(server, tmp_path):
    """The published value (the LFS pointer of SonyCSLParis/test-lfs) refuses the test's own archive."""
    url, _ = server
    assert list(PUBLISHED_SHA256) == ["NSYNTH_GUITAR_MP3.zip"]
    with pytest.raises(ChecksumError, match=PUBLISHED_SHA256["NSYNTH_GUITAR_MP3.zip"]):
        download_nsynth_guitar(tmp_path / "data", raw_url=url, media_url=url, progress=False)


def test_files_of_the_users_under_the_datasets_folder_are_never_unpacked_over(server, tmp_path):
    """Without the completion marker, the archive was once unpacked over DIR/NSYNTH_GUITAR_MP3/ and its files."""
    url, served = server
    dest = tmp_path / "data"
    mine = dest / "NSYNTH_GUITAR_MP3" / "nsynth-guitar-train" / "guitar_acoustic_000-060-075.mp3"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"my own recording")
    with pytest.raises(FileExistsError, match="was not made by a finished download.*Move it aside"):
        download_nsynth_guitar(dest, raw_url=url, media_url=url, progress=False, sha256=sha256_of(served))
    assert mine.read_bytes() == b"my own recording"
    assert RangeHandler.requests == []  # refused before any download


def test_a_users_own_archive_is_unpacked_but_never_deleted(server, tmp_path):
    url, served = server
    dest = tmp_path / "data"
    dest.mkdir()
    archive = dest / "NSYNTH_GUITAR_MP3.zip"
    archive.write_bytes((served / "NSYNTH_GUITAR_MP3.zip").read_bytes())  # the user's copy, not downloaded here
    target = download_nsynth_guitar(dest, raw_url=url, media_url=url, progress=False, sha256=sha256_of(served))
    assert len(list_notes(target, "train").notes) == 2
    assert archive.is_file()  # not ours to delete
    assert not [r for r in RangeHandler.requests if r[0] == "GET" and r[1].endswith(".zip")]  # nor downloaded again
    assert sorted(p.name for p in dest.iterdir()) == ["NSYNTH_GUITAR_MP3", "NSYNTH_GUITAR_MP3.zip"]  # no debris


def test_an_unpacking_cut_short_leaves_no_half_folder_and_the_rerun_finishes(server, tmp_path, monkeypatch):
    url, served = server
    dest = tmp_path / "data"

    def cut(self, path=None, members=None, pwd=None):  # Ctrl-C after the first note
        self.extract(self.infolist()[0], path)
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "extractall", cut)
    with pytest.raises(KeyboardInterrupt):
        download_nsynth_guitar(dest, raw_url=url, media_url=url, progress=False, sha256=sha256_of(served))
    assert not (dest / "NSYNTH_GUITAR_MP3").exists()
    monkeypatch.undo()
    target = download_nsynth_guitar(dest, raw_url=url, media_url=url, progress=False, sha256=sha256_of(served))
    assert (target / DONE_MARKER).is_file() and [p.name for p in dest.iterdir()] == ["NSYNTH_GUITAR_MP3"]
