#!/usr/bin/python3
"""Record the request frames real Kafka clients send, as seeds for fuzz_request.

Listens on --listen, forwards every connection to --broker, and writes each
client-to-broker frame (without its size prefix) to OUT/<api>_v<version>_<n>.bin.
Point a client at the proxy, with the broker advertising the proxy's address
(--set advertised.listeners=PLAINTEXT://127.0.0.1:<proxy port>), run it, stop with Ctrl-C.
"""
import argparse
import os
import socket
import struct
import threading

API_NAMES = {0: "produce", 1: "fetch", 2: "list_offsets", 3: "metadata", 18: "api_versions",
             19: "create_topics", 20: "delete_topics", 21: "delete_records",
             22: "init_producer_id", 32: "describe_configs", 33: "alter_configs",
             37: "create_partitions", 44: "incremental_alter_configs", 8: "offset_commit",
             9: "offset_fetch", 10: "find_coordinator", 11: "join_group", 12: "heartbeat",
             13: "leave_group", 14: "sync_group", 15: "describe_groups", 16: "list_groups",
             42: "delete_groups", 47: "offset_delete"}


def pump(src, dst, out_dir, counter, lock, record):
    buf = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
            if not record:
                continue
            buf += data
            while len(buf) >= 4:
                (size,) = struct.unpack(">i", buf[:4])
                if size < 4 or len(buf) < 4 + size:
                    break
                frame, buf = buf[4:4 + size], buf[4 + size:]
                key, version = struct.unpack(">hh", frame[:4])
                with lock:
                    counter[0] += 1
                    n = counter[0]
                name = API_NAMES.get(key, "api%d" % key)
                with open(os.path.join(out_dir, "%s_v%d_%04d.bin" % (name, version, n)), "wb") as f:
                    f.write(frame)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--broker", default="127.0.0.1:9092")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    host, port = a.broker.rsplit(":", 1)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.listen))
    ls.listen(64)
    counter, lock = [0], threading.Lock()
    while True:
        c, _ = ls.accept()
        b = socket.create_connection((host, int(port)))
        threading.Thread(target=pump, args=(c, b, a.out, counter, lock, True), daemon=True).start()
        threading.Thread(target=pump, args=(b, c, a.out, counter, lock, False), daemon=True).start()


if __name__ == "__main__":
    main()
