import socket
import tempfile


def send(data):
    s = socket.socket()
    s.connect(("127.0.0.1", 9))
    s.sendall(data)
    s.close()
    return len(data)


def spool(data):
    f = tempfile.NamedTemporaryFile()
    f.write(data)
