# The seed tutorial's client, followed literally: recv(16) in a loop, int(msg[:HEADERSIZE]) on a new message,
# reassembly by string concatenation until the length matches. Test conveniences: host/port/count arguments,
# and each full message printed as "MSG <payload>" (plus its raw header as "HDR <repr>").
import socket
import sys

HEADERSIZE = 10
port = int(sys.argv[1])
count = int(sys.argv[2])

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("127.0.0.1", port))

received = 0
while received < count:
    full_msg = ''
    new_msg = True
    while True:
        msg = s.recv(16)
        if not msg:
            sys.exit(f"server closed after {received} messages")
        if new_msg:
            header = msg[:HEADERSIZE]
            msglen = int(msg[:HEADERSIZE])
            new_msg = False

        full_msg += msg.decode("utf-8")

        if len(full_msg) - HEADERSIZE == msglen:
            print("HDR " + repr(header), flush=True)
            print("MSG " + full_msg[HEADERSIZE:], flush=True)
            received += 1
            new_msg = True
            full_msg = ""
            break
s.close()
