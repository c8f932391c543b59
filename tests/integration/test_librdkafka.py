"""A C program on librdkafka: each codec, keys, headers, acks 0/1/all, idempotence,
several partitions; every record verified on the way back."""
import pytest

from conftest import client_program, run


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_codecs_idempotent_acks_all(broker, codec):
    out = run([client_program("rk_produce_verify"), broker.bootstrap, "rk-" + codec, "3000", codec,
               "all", "true", "3", "200"]).stdout
    assert b"ok: 3000 records" in out


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_acks_levels(broker, acks):
    out = run([client_program("rk_produce_verify"), broker.bootstrap, "acks" + acks, "1000", "lz4",
               acks, "false", "2"]).stdout
    assert b"ok: 1000 records" in out


def test_large_records_need_several_fetches(broker):
    # 200 x 100 KiB = 20 MB: more than one fetch response, at least one batch each time.
    out = run([client_program("rk_produce_verify"), broker.bootstrap, "large", "200", "none", "all",
               "true", "1", str(100 * 1024)], timeout=120).stdout
    assert b"ok: 200 records" in out
