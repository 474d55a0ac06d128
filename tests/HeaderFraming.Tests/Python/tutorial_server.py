# The seed tutorial's streaming server, followed literally (10-byte left-aligned length header, socket.send),
# with three test conveniences: it binds 127.0.0.1 on a free port and prints it, the interval is an argument,
# and it stops after --count time messages.
import socket
import sys
import time

HEADERSIZE = 10
interval = float(sys.argv[1]) if len(sys.argv) > 1 else 3
count = int(sys.argv[2]) if len(sys.argv) > 2 else 3

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen(5)
print(f"PORT {s.getsockname()[1]}", flush=True)

clientsocket, address = s.accept()
print(f"Connection from {address} has been established.", flush=True)

msg = "Welcome to the server!"
msg = f"{len(msg):<{HEADERSIZE}}" + msg
clientsocket.send(bytes(msg, "utf-8"))

for _ in range(count):
    time.sleep(interval)
    msg = f"The time is {time.time()}"
    msg = f"{len(msg):<{HEADERSIZE}}" + msg
    print(msg, flush=True)
    clientsocket.send(bytes(msg, "utf-8"))

time.sleep(0.2)
clientsocket.close()
s.close()
