"""gzip on the HTTP front: what curl --compressed and Prometheus ask for, and what they get."""

from __future__ import annotations

import gzip
import socket
import subprocess
from collections.abc import Iterator

import pytest
from cachescope.web.conn import Answer, Streamed
from cachescope.web.encoding import Encodings, accepts_gzip, negotiate
from cachescope.web.wire import Request
from httpclient import Reader
from hypothesis import given
from hypothesis import strategies as st
from servers import Exporter, Exposition, RedisServer, require_binary


def request(accept: str | None, method: str = "GET") -> Request:
    headers = {} if accept is None else {"accept-encoding": accept}
    return Request(method, "/metrics", "", headers, True)


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("*", True),
        ("*;q=0", False),
        ("*, gzip;q=0", False),  # named outright: the wildcard does not overrule it
        ("gzip;q=0.1, *;q=0", True),
        ("identity", False),
        ("", False),
        (None, False),
        ("gzip;q=nan", False),
        ("gzip;q=2", False),
        ("gzip;q=abc", False),
        ("br", False),
    ],
)
def test_accept_encoding_q_values_decide_gzip(header: str | None, gzip_ok: bool) -> None:
    assert accepts_gzip(header) is gzip_ok


@given(st.text(max_size=200))
def test_any_accept_encoding_header_is_decided_without_raising(header: str) -> None:
    assert accepts_gzip(header) in (True, False)


TEXT_BODY = b"".join(b'redis_up{instance="cache-%d"} 1\n' % i for i in range(2000))


def test_a_gzipped_body_decompresses_to_the_plain_one() -> None:
    counts = Encodings()
    plain = Answer(200, TEXT_BODY, "text/plain", {})
    streamed = Answer(
        200, Streamed(len(TEXT_BODY), [TEXT_BODY[:999], TEXT_BODY[999:]]), "text/plain", {}
    )
    for answer in (plain, streamed):
        out = negotiate(request("gzip"), answer, counts)
        assert out.headers == {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        assert isinstance(out.body, Streamed)
        data = b"".join(out.body.chunks)
        assert len(data) == out.body.size < len(TEXT_BODY) // 5
        assert gzip.decompress(data) == TEXT_BODY
    assert counts.counts() == {"gzip": 2, "identity": 0}


def test_gzip_refused_or_a_small_body_goes_plain_but_varies() -> None:
    counts = Encodings()
    refused = negotiate(request("gzip;q=0"), Answer(200, TEXT_BODY, "text/plain", {}), counts)
    assert refused.body == TEXT_BODY and refused.headers == {"Vary": "Accept-Encoding"}
    small = negotiate(request("gzip"), Answer(200, b"Healthy\n", "text/plain", {}), counts)
    assert small.body == b"Healthy\n" and "Content-Encoding" not in small.headers
    assert counts.counts() == {"gzip": 0, "identity": 2}


@pytest.fixture(scope="module")
def target() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def exporter(target: RedisServer) -> Iterator[Exporter]:
    started = Exporter("--target", target.uri)
    yield started
    started.stop()


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    command = [require_binary("curl"), "--silent", "--show-error", "--max-time", "20", *args]
    return subprocess.run(command, capture_output=True, check=True, timeout=30)


def series(body: str) -> set[str]:
    """Each sample's name and labels, its value left out: values move between scrapes."""
    return {line.rsplit(" ", 1)[0] for line in body.splitlines() if not line.startswith("#")}


@pytest.mark.live
def test_curl_compressed_gets_gzip_that_decompresses_to_the_plain_metrics(
    exporter: Exporter, target: RedisServer
) -> None:
    url = f"http://127.0.0.1:{exporter.port}"
    for path in ("/metrics", f"/scrape?target={target.uri}"):
        head = curl("--compressed", "--dump-header", "-", "--output", "/dev/null", url + path)
        headers = head.stdout.decode().lower()
        assert "content-encoding: gzip" in headers and "vary: accept-encoding" in headers
        unpacked = curl("--compressed", url + path).stdout.decode()
        plain = curl(url + path).stdout.decode()
        assert series(unpacked) == series(plain)
        assert Exposition(unpacked).get("redis_up") == [1.0]
    raw = curl("--header", "Accept-Encoding: gzip", url + "/metrics").stdout
    assert Exposition(gzip.decompress(raw).decode()).get("redis_up") == [1.0]


@pytest.mark.live
def test_a_client_that_does_not_ask_gets_plain_text(exporter: Exporter) -> None:
    url = f"http://127.0.0.1:{exporter.port}/metrics"
    for extra in ([], ["--header", "Accept-Encoding: gzip;q=0, identity"]):
        head = curl(*extra, "--dump-header", "-", "--output", "/dev/null", url)
        assert "content-encoding" not in head.stdout.decode().lower()
    before = Exposition(exporter.get("/metrics")[1])
    assert before.value("cachescope_http_responses_total", encoding="identity") >= 2


@pytest.mark.live
def test_head_and_http_1_0_get_gzip_framed_by_content_length(exporter: Exporter) -> None:
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
        reader = Reader(sock)
        sock.sendall(b"HEAD /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
        head = reader.reply(head_only=True)
        assert head.headers["content-encoding"] == "gzip" and int(head.headers["content-length"])
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
        kept = reader.reply()  # the HEAD sent no body: the connection is in step
        assert Exposition(gzip.decompress(kept.body).decode()).get("redis_up") == [1.0]
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
        reader = Reader(sock)
        old = reader.reply()
        assert old.headers["content-encoding"] == "gzip" and reader.at_eof()
        text = gzip.decompress(old.body).decode()
    assert Exposition(text).value("cachescope_http_responses_total", encoding="gzip") >= 1


@given(st.lists(st.binary(max_size=3000), max_size=8), st.sampled_from(["gzip", "*", "br"]))
def test_any_body_in_any_pieces_comes_back_whole(pieces: list[bytes], accept: str) -> None:
    body = b"".join(pieces)
    answer = Answer(200, Streamed(len(body), pieces), "text/plain", {})
    out = negotiate(request(accept), answer, Encodings())
    assert isinstance(out.body, Streamed)  # a plain answer keeps its pieces too
    sent = b"".join(out.body.chunks)
    assert len(sent) == out.body.size
    if out.headers.get("Content-Encoding") == "gzip":
        sent = gzip.decompress(sent)
    assert sent == body
