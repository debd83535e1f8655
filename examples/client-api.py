# loopix client API from Python's standard library alone: a minimal RFC 6455 client (docs/client-api.md).
import base64, json, os, socket, struct
s = socket.create_connection(("127.0.0.1", int(os.environ.get("LOOPIX_API_PORT", "1978"))))
s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
          b"Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)) + b"\r\n\r\n")
f = s.makefile("rb")
while f.readline() not in (b"\r\n", b""): pass              # skip the 101 Switching Protocols headers
def send(obj):                                              # one masked text frame (RFC 6455 §5.2)
    data, mask = json.dumps(obj).encode(), os.urandom(4)
    head = bytes([0x81, 0x80 | len(data)]) if len(data) < 126 else struct.pack("!BBH", 0x81, 0xFE, len(data))
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
def wait(match):                                            # the next server frame that matches (unmasked)
    while True:
        n = f.read(2)[1] & 0x7F
        n = struct.unpack("!H", f.read(2))[0] if n == 126 else struct.unpack("!Q", f.read(8))[0] if n == 127 else n
        if match(m := json.loads(f.read(n))): return m
send({"type": "selfAddress", "id": 1}); me = wait(lambda m: m.get("id") == 1)["address"]; print("my address:", me, flush=True)
send({"type": "send", "id": 2, "to": me, "message": "Hello from Python"}); print(wait(lambda m: m.get("id") == 2), flush=True)
print("received:", wait(lambda m: m["type"] == "received" and m.get("message") == "Hello from Python")["message"])
