#!/usr/bin/python3
"""Warm up a freshly started VNC server until it serves the expected colour.

x11vnc (libvncserver) shows its very first client a black framebuffer; the
lab helpers run this once after start so tests never see that frame. It is
an independent RFB client (RFB 3.3/3.7/3.8, None or VNC auth via python3-cryptography
DES), so it also proves the server works before our own code touches it.

  rfb-warmup.py --port 5901 --colour 2a6f97 [--password-file FILE] [--timeout 20]

Asks for full raw frames until pixel (1,1) has the colour; exit 0 when it
does, 1 on timeout, 2 on a protocol or auth failure. Prints one JSON line.
"""
import argparse
import json
import socket
import struct
import sys
import time


def recv_exact(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError("server closed after %d of %d bytes" % (len(data), count))
        data += chunk
    return data


def vnc_auth_response(password, challenge):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key = bytes(int("{:08b}".format(b)[::-1], 2) for b in password[:8].ljust(8, b"\0"))
    encryptor = Cipher(algorithms.TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


def handshake(sock, password):
    version = recv_exact(sock, 12)
    if not version.startswith(b"RFB 003."):
        raise RuntimeError("not an RFB server: %r" % version)
    minor = min(int(version[8:11]), 8)
    minor = 3 if minor < 7 else minor
    sock.sendall(b"RFB 003.%03d\n" % minor)
    if minor == 3:
        # RFC 6143 Appendix A.1: the server picks, as a u32.
        types = [struct.unpack(">I", recv_exact(sock, 4))[0]]
        count = 1 if types[0] else 0
    else:
        count = recv_exact(sock, 1)[0]
        types = list(recv_exact(sock, count)) if count else []
    if count == 0:
        length = struct.unpack(">I", recv_exact(sock, 4))[0]
        raise RuntimeError("refused: %s" % recv_exact(sock, min(length, 4096)).decode("latin-1"))
    if 1 in types:
        chosen = 1
    elif 2 in types and password is not None:
        chosen = 2
    else:
        raise RuntimeError("no usable security type in %r" % types)
    if minor != 3:
        sock.sendall(bytes([chosen]))
    if chosen == 2:
        sock.sendall(vnc_auth_response(password, recv_exact(sock, 16)))
    if chosen == 2 or minor == 8:
        status = struct.unpack(">I", recv_exact(sock, 4))[0]
        if status != 0:
            reason = "(no reason before 3.8)"
            if minor == 8:
                length = struct.unpack(">I", recv_exact(sock, 4))[0]
                reason = recv_exact(sock, min(length, 4096)).decode("latin-1")
            raise RuntimeError("auth failed: %s" % reason)
    sock.sendall(b"\x01")  # ClientInit, shared
    width, height = struct.unpack(">HH", recv_exact(sock, 4))
    recv_exact(sock, 16)
    recv_exact(sock, struct.unpack(">I", recv_exact(sock, 4))[0])
    # 32 bpp little-endian true colour, 0x00RRGGBB; raw encoding only.
    sock.sendall(struct.pack(">BxxxBBBBHHHBBBxxx", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
    sock.sendall(struct.pack(">BxHi", 2, 1, 0))
    return width, height, types


def pixel_1_1(sock, width, height):
    sock.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
    found = None
    while True:
        kind = recv_exact(sock, 1)[0]
        if kind == 0:
            break
        if kind == 2:  # Bell
            continue
        if kind == 3:  # ServerCutText
            recv_exact(sock, 3)
            recv_exact(sock, struct.unpack(">I", recv_exact(sock, 4))[0])
            continue
        raise RuntimeError("unexpected server message %d" % kind)
    rects = struct.unpack(">xH", recv_exact(sock, 3))[0]
    for _ in range(rects):
        x, y, w, h, encoding = struct.unpack(">HHHHi", recv_exact(sock, 12))
        if encoding != 0:
            raise RuntimeError("unexpected encoding %d" % encoding)
        data = recv_exact(sock, w * h * 4)
        if x <= 1 < x + w and y <= 1 < y + h:
            offset = ((1 - y) * w + (1 - x)) * 4
            blue, green, red = data[offset], data[offset + 1], data[offset + 2]
            found = "%02x%02x%02x" % (red, green, blue)
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--colour", required=True)
    parser.add_argument("--password-file")
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    password = None
    if args.password_file:
        with open(args.password_file, "rb") as handle:
            password = handle.read().rstrip(b"\n")
    deadline = time.monotonic() + args.timeout
    frames = []
    try:
        with socket.create_connection((args.host, args.port), timeout=args.timeout) as sock:
            width, height, types = handshake(sock, password)
            # Bounded: one full frame per request until the colour shows or time runs out.
            while time.monotonic() < deadline and len(frames) < 200:
                frames.append(pixel_1_1(sock, width, height))
                if frames[-1] == args.colour.lower().lstrip("#"):
                    print(json.dumps({"ok": True, "frames": frames, "types": types, "width": width, "height": height}))
                    return 0
    except (OSError, EOFError, RuntimeError) as error:
        print(json.dumps({"ok": False, "error": str(error), "frames": frames}))
        return 2
    print(json.dumps({"ok": False, "error": "colour never appeared", "frames": frames}))
    return 1


if __name__ == "__main__":
    sys.exit(main())
