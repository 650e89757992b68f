"""thespian_client -- talk to a thespian-c host (thespiand) from Python.

A small ctypes binding over libthespian-client, standard library only, in
the shape of Thespian's ActorSystem as seen from outside::

    from thespian_client import ActorSystem
    with ActorSystem("tcp://127.0.0.1:1900") as asys:
        greeter = asys.createActor("hello.Greeter", globalName="greeter")
        reply = asys.ask(greeter, "Greet", {"name": "Ada"}, timeout=5)
        print(reply.type, reply.json())

Messages are a type name plus a body: a dict, list, number, bool or None
body is sent as JSON, bytes as they are, str as UTF-8. Replies are Message
objects (type, body bytes, sender address; .json() parses the body).

As in Thespian, ask() and listen() return None when nothing arrives within
the timeout, and ask() returns the next message for this context, which is
not necessarily the answer to this request. Failures raise the exception
Thespian raises (InvalidActorAddress, NoCompatibleSystemForActor, ...); a
host that is gone raises ActorSystemFailure at once.

An ActorSystem object is one context: use it from one thread at a time and
give each thread its own with private().

The library is found from $THESPIAN_CLIENT_LIB, else in the tree `meson
install` made (this module's prefix, LIBDIR), else by the linker's search
for libthespian-client; when none loads, the first call raises
ActorSystemStartupFailure (name LibraryNotFound) saying what was tried
and what to install or set. The host is found by the same rule as the
thespian CLI: the endpoint argument, else $THESPIAN_ENDPOINT, else
$THESPIAN_DIRECTOR_DIR/adminendpoint.cfg, else its adminport.cfg,
else tcp://127.0.0.1:1900.

On tcp:// the connection is authenticated with CurveZMQ (docs/security.md):
the client's key pair is the admin_key argument (a file), else
$THESPIAN_ADMIN_KEY, else K/curve/operator.key; the host's public key is
server_key, else $THESPIAN_SERVER_KEY, else K/curve/host.pub, K being
$THESPIAN_KEY_DIR, else $THESPIAN_DIRECTOR_DIR, else ~/.thespian. A refused
key raises ActorSystemFailure (name PermissionDenied).
"""

import ctypes
import ctypes.util
import json
import os

__all__ = [
    "ActorSystem", "ActorAddress", "Message", "ActorSystemException",
    "InvalidActorAddress", "NoCompatibleSystemForActor",
    "InvalidActorSourceHash", "InvalidActorSpecification",
    "ActorSystemRequestTimeout", "ActorSystemFailure",
    "ActorSystemStartupFailure",
]

# ---- errors (thespian/error.h codes, Thespian's exception names) ----------

TH_EINVAL = -1
TH_ENOENT = -3
TH_ECLOSED = -9
TH_ETIMEDOUT = -11
TH_EADDR = -15
TH_ENOCOMPAT = -17
TH_EPERM = -20
TH_ESOURCE = -21
TH_ESTARTUP = -22


class ActorSystemException(Exception):
    """Base of every error; .code is the TH_E* code, .name its name."""

    def __init__(self, code, name, message):
        super().__init__(message)
        self.code = code
        self.name = name


class InvalidActorAddress(ActorSystemException):
    pass


class NoCompatibleSystemForActor(ActorSystemException):
    pass


class InvalidActorSourceHash(ActorSystemException):
    pass


class InvalidActorSpecification(ActorSystemException):
    pass


class ActorSystemRequestTimeout(ActorSystemException):
    pass


class ActorSystemFailure(ActorSystemException):
    pass


class ActorSystemStartupFailure(ActorSystemException):
    pass


_BY_CODE = {
    TH_EADDR: InvalidActorAddress,
    TH_ENOCOMPAT: NoCompatibleSystemForActor,
    TH_ESOURCE: InvalidActorSourceHash,
    TH_EINVAL: InvalidActorSpecification,
    TH_ETIMEDOUT: ActorSystemRequestTimeout,
    TH_ESTARTUP: ActorSystemStartupFailure,
}

# ---- the C library -------------------------------------------------------------


class _Addr(ctypes.Structure):
    _fields_ = [("opaque", ctypes.c_uint64 * 3)]


class _Opts(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("reserved0", ctypes.c_uint32),
                ("endpoint", ctypes.c_char_p),
                ("connect_timeout_ms", ctypes.c_int),
                ("request_timeout_ms", ctypes.c_int),
                ("admin_key", ctypes.c_char_p),
                ("server_key", ctypes.c_char_p)]


class _Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("message", ctypes.c_char * 512)]


class _Msg(ctypes.Structure):
    _fields_ = [("type", ctypes.c_char_p), ("data", ctypes.c_void_p),
                ("len", ctypes.c_size_t), ("sender", _Addr)]


class _CreateOpts(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("reserved0", ctypes.c_uint32),
                ("global_name", ctypes.c_char_p),
                ("source_hash", ctypes.c_char_p),
                ("requirements_json", ctypes.c_char_p)]


_LIBNAME = "libthespian-client.so.0"


def _installed_lib():
    """The library `meson install` put beside this module's prefix, or
    None (not installed by meson: running from the source tree). The
    prefix is found from this file's own path, so a moved or --destdir
    tree works as well as the configured one."""
    try:
        from _thespian_install import PURELIB, LIBDIR, LIBNAME
    except ImportError:
        return None
    if os.path.isabs(LIBDIR):
        return os.path.join(LIBDIR, LIBNAME)
    here = os.path.dirname(os.path.abspath(__file__))
    depth = len([p for p in PURELIB.split("/") if p])
    prefix = here
    for _ in range(depth):
        prefix = os.path.dirname(prefix)
    return os.path.join(prefix, LIBDIR, LIBNAME)


def _load():
    env = os.environ.get("THESPIAN_CLIENT_LIB")
    if env:
        tries = [(env, "$THESPIAN_CLIENT_LIB")]
    else:
        tries = []
        inst = _installed_lib()
        if inst and os.path.exists(inst):
            tries.append((inst, "the installed tree"))
        found = ctypes.util.find_library("thespian-client")
        tries.append((found or _LIBNAME, "the linker's search path"))
    errors = []
    lib = None
    for path, where in tries:
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as e:
            errors.append(f"{path} (from {where}): {e}")
    if lib is None:
        raise ActorSystemStartupFailure(
            TH_ESTARTUP, "LibraryNotFound",
            "thespian_client: cannot load libthespian-client: " +
            "; ".join(errors) + ". Install thespian-c (`meson install` puts "
            "the library in LIBDIR, found from this module's prefix), or "
            "set THESPIAN_CLIENT_LIB to the path of " + _LIBNAME)
    P, I, S, V = ctypes.POINTER, ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p
    C = ctypes.c_char_p
    sig = {
        "th_client_connect": (I, [P(V), P(_Opts), P(_Error)]),
        "th_client_private": (I, [P(V), V]),
        "th_client_close": (None, [V]),
        "th_client_errmsg": (C, [V]),
        "th_client_endpoint_of": (C, [V]),
        "th_client_my_address": (None, [V, P(_Addr)]),
        "th_client_system_address": (None, [V, P(_Addr)]),
        "th_client_create": (I, [V, P(_Addr), C, P(_CreateOpts)]),
        "th_client_lookup": (I, [V, P(_Addr), C]),
        "th_client_tell": (I, [V, P(_Addr), C, ctypes.c_char_p, S]),
        "th_client_listen": (I, [V, P(P(_Msg)), I]),
        "th_client_ask": (I, [V, P(P(_Msg)), P(_Addr), C, ctypes.c_char_p,
                              S, I]),
        "th_client_msg_free": (None, [P(_Msg)]),
        "th_client_update_capability": (I, [V, C, C]),
        "th_client_status": (I, [V, P(V)]),
        "th_client_shutdown": (I, [V, I]),
        "th_client_load": (I, [V, ctypes.c_char_p, C]),
        "th_client_unload": (I, [V, C]),
        "th_client_addr_format": (I, [P(_Addr), ctypes.c_char_p, S]),
        "th_client_addr_parse": (I, [P(_Addr), C]),
        "th_client_free": (None, [V]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


_lib = None


def _c():
    global _lib
    if _lib is None:
        _lib = _load()
    return _lib


def _enc(text):
    return None if text is None else str(text).encode("utf-8")


# ---- values ------------------------------------------------------------------------


class ActorAddress:
    """An actor's address: comparable, hashable, printable ("th1:...")."""

    __slots__ = ("_addr",)

    def __init__(self, addr):
        if isinstance(addr, str):
            a = _Addr()
            if _c().th_client_addr_parse(ctypes.byref(a), _enc(addr)) != 0:
                raise InvalidActorAddress(TH_EADDR, "InvalidActorAddress",
                                          "not an actor address: %r" % addr)
            addr = a
        self._addr = addr

    def _key(self):
        return tuple(self._addr.opaque)

    def __eq__(self, other):
        return isinstance(other, ActorAddress) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        buf = ctypes.create_string_buffer(64)
        _c().th_client_addr_format(ctypes.byref(self._addr), buf, len(buf))
        return buf.value.decode()

    def __repr__(self):
        return "ActorAddress(%r)" % str(self)


class Message:
    """A message received from an actor."""

    __slots__ = ("type", "body", "sender")

    def __init__(self, type_, body, sender):
        self.type = type_
        self.body = body
        self.sender = sender

    def json(self):
        """The body parsed as JSON (ValueError when it is not)."""
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "Message(%r, %r, from %s)" % (self.type, self.body, self.sender)


def _body_bytes(body):
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _ms(timeout, default=None):
    if timeout is None:
        return -1 if default is None else default
    if hasattr(timeout, "total_seconds"):  # datetime.timedelta
        timeout = timeout.total_seconds()
    return max(0, int(round(float(timeout) * 1000)))


# ---- the actor system -------------------------------------------------------------------


class ActorSystem:
    """One context on a thespian-c host (see the module text)."""

    def __init__(self, endpoint=None, connect_timeout=5.0,
                 request_timeout=10.0, admin_key=None, server_key=None,
                 _handle=None):
        self._h = None
        if _handle is not None:
            self._h = _handle
            return
        opts = _Opts(ctypes.sizeof(_Opts), 0, _enc(endpoint),
                     _ms(connect_timeout), _ms(request_timeout),
                     _enc(admin_key and os.fspath(admin_key)),
                     _enc(server_key and os.fspath(server_key)))
        err = _Error()
        h = ctypes.c_void_p()
        rc = _c().th_client_connect(ctypes.byref(h), ctypes.byref(opts),
                                    ctypes.byref(err))
        if rc != 0:
            raise _exception(rc, err.message.decode("utf-8", "replace"))
        self._h = h

    # -- context management
    def close(self):
        """Close this context (its reply address is dropped by the host)."""
        if self._h is not None:
            _c().th_client_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def private(self):
        """A new context on the same host for this thread (Thespian's
        private()); use it in a with statement."""
        h = ctypes.c_void_p()
        self._check(_c().th_client_private(ctypes.byref(h), self._live()))
        return ActorSystem(_handle=h)

    # -- helpers
    def _live(self):
        if self._h is None:
            raise ActorSystemFailure(TH_ECLOSED, "ActorSystemShutdown",
                                     "this context is closed")
        return self._h

    def _check(self, rc):
        if rc != 0:
            msg = _c().th_client_errmsg(self._live()) or b""
            raise _exception(rc, msg.decode("utf-8", "replace"))

    def _addr(self, address):
        """An ActorAddress, its printed form, or a global name."""
        if isinstance(address, ActorAddress):
            return address._addr
        if isinstance(address, str) and address.startswith("th1:"):
            return ActorAddress(address)._addr
        if isinstance(address, str):
            found = self.lookup(address)
            if found is None:
                raise InvalidActorAddress(TH_EADDR, "InvalidActorAddress",
                                          "no live actor is named %r"
                                          % address)
            return found._addr
        raise InvalidActorAddress(TH_EADDR, "InvalidActorAddress",
                                  "not an actor address: %r" % (address,))

    def _take(self, pmsg):
        m = pmsg.contents
        body = ctypes.string_at(m.data, m.len) if m.len else b""
        sender = _Addr.from_buffer_copy(m.sender)
        msg = Message(m.type.decode("utf-8"), body, ActorAddress(sender))
        _c().th_client_msg_free(pmsg)
        return msg

    # -- the operations
    @property
    def endpoint(self):
        return _c().th_client_endpoint_of(self._live()).decode()

    @property
    def systemAddress(self):
        a = _Addr()
        _c().th_client_system_address(self._live(), ctypes.byref(a))
        return ActorAddress(a)

    @property
    def myAddress(self):
        a = _Addr()
        _c().th_client_my_address(self._live(), ctypes.byref(a))
        return ActorAddress(a)

    def createActor(self, actorClass, targetActorRequirements=None,
                    globalName=None, sourceHash=None):
        """Create a top-level actor of class "PLUGIN.CLASS"."""
        req = None
        if targetActorRequirements is not None:
            req = json.dumps(targetActorRequirements)
        opts = _CreateOpts(ctypes.sizeof(_CreateOpts), 0, _enc(globalName),
                           _enc(sourceHash), _enc(req))
        a = _Addr()
        self._check(_c().th_client_create(self._live(), ctypes.byref(a),
                                          _enc(actorClass),
                                          ctypes.byref(opts)))
        return ActorAddress(a)

    def lookup(self, globalName):
        """The live actor with this global name, or None."""
        a = _Addr()
        rc = _c().th_client_lookup(self._live(), ctypes.byref(a),
                                   _enc(globalName))
        if rc == TH_ENOENT:
            return None
        self._check(rc)
        return ActorAddress(a)

    def tell(self, address, msgType, body=None):
        """Send a message to an ActorAddress, a printed address or a global
        name; does not wait for an answer."""
        data = _body_bytes(body)
        self._check(_c().th_client_tell(self._live(),
                                        ctypes.byref(self._addr(address)),
                                        _enc(msgType), data, len(data)))

    def listen(self, timeout=None):
        """The next message for this context, or None after timeout
        seconds (None: wait without limit)."""
        p = ctypes.POINTER(_Msg)()
        rc = _c().th_client_listen(self._live(), ctypes.byref(p), _ms(timeout))
        if rc == TH_ETIMEDOUT:
            return None
        self._check(rc)
        return self._take(p)

    def ask(self, address, msgType, body=None, timeout=None):
        """tell, then the next message for this context (None after
        timeout seconds, as in Thespian)."""
        data = _body_bytes(body)
        p = ctypes.POINTER(_Msg)()
        rc = _c().th_client_ask(self._live(), ctypes.byref(p),
                                ctypes.byref(self._addr(address)),
                                _enc(msgType), data, len(data), _ms(timeout))
        if rc == TH_ETIMEDOUT:
            return None
        self._check(rc)
        return self._take(p)

    def updateCapability(self, capabilityName, capabilityValue=None):
        """Set a capability of the host; None removes it."""
        value = None
        if capabilityValue is not None:
            value = json.dumps(capabilityValue)
        self._check(_c().th_client_update_capability(
            self._live(), _enc(capabilityName), _enc(value)))

    def status(self):
        """The host's status (docs/protocol.md) as a dict."""
        p = ctypes.c_void_p()
        self._check(_c().th_client_status(self._live(), ctypes.byref(p)))
        try:
            return json.loads(ctypes.string_at(p).decode("utf-8"))
        finally:
            _c().th_client_free(p)

    def loadActorSource(self, fname):
        """Load a signed source bundle; returns its source hash. (This host
        version refuses: bundles come in a later release.)"""
        buf = ctypes.create_string_buffer(65)
        self._check(_c().th_client_load(self._live(), buf, _enc(fname)))
        return buf.value.decode()

    def unloadActorSource(self, sourceHash):
        self._check(_c().th_client_unload(self._live(), _enc(sourceHash)))

    def shutdown(self, timeout=None):
        """Shut the host down in order and wait for it (timeout seconds;
        None: the request timeout)."""
        self._check(_c().th_client_shutdown(self._live(), _ms(timeout, -1)))


def _exception(code, message):
    cls = _BY_CODE.get(code, ActorSystemFailure)
    names = {TH_ECLOSED: "ActorSystemShutdown", TH_ENOENT: "NotFound",
             TH_EPERM: "PermissionDenied"}
    name = cls.__name__ if cls is not ActorSystemFailure else names.get(
        code, "ActorSystemFailure")
    return cls(code, name, message)
