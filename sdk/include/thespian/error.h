/*
 * thespian/error.h — error codes shared by the plugin ABI, the host runtime
 * and the client library. Codes are negative; 0 is success. The numeric
 * values are part of the ABI and the admin protocol: never renumber, only
 * append.
 */
#ifndef TH_SDK_ERROR_H
#define TH_SDK_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Permanent values (ABI and wire). Names follow Thespian's exceptions where
 * one exists (see th_errname). */
enum th_err {
    TH_OK = 0,
    TH_EINVAL = -1,       /* invalid argument / specification */
    TH_ENOMEM = -2,       /* out of memory */
    TH_ENOENT = -3,       /* no such class, name, file or source */
    TH_EABI = -4,         /* plugin ABI mismatch or malformed descriptor */
    TH_EFULL = -5,        /* target mailbox full (back-pressure) */
    TH_ETOOBIG = -6,      /* payload or frame over the limit */
    TH_ERESERVED = -7,    /* message type reserved for the runtime */
    TH_EDEAD = -8,        /* address refers to no live actor */
    TH_ECLOSED = -9,      /* actor system is shutting down or gone */
    TH_ELIMIT = -10,      /* a configured limit was reached */
    TH_ETIMEDOUT = -11,   /* request timed out */
    TH_EEXIST = -12,      /* already exists */
    TH_EIO = -13,         /* system call or I/O failure */
    TH_EFORMAT = -14,     /* malformed input (JSON, frame, file) */
    TH_EADDR = -15,       /* malformed or foreign address */
    TH_EFAIL = -16,       /* actor reported failure */
    TH_ENOCOMPAT = -17,   /* no compatible system for actor */
    TH_EBADSIG = -18,     /* signature missing, malformed or not valid */
    TH_EHASH = -19,       /* content hash mismatch */
    TH_EPERM = -20,       /* refused by policy */
    TH_ESOURCE = -21,     /* invalid actor source hash */
    TH_ESTARTUP = -22,    /* actor system failed to start */
};

/* The one diagnostic type of thespian-c (host runtime, embedders, client
 * library): a caller-owned record that functions which can reject input
 * fill with one line naming the bad input (file, archive member, key,
 * field, endpoint) and the reason. Filling one never allocates.
 * Zero-initialise it; `code` is the TH_E* code that was returned, `msg`
 * is empty when there was no error. `message` names the same bytes as
 * `msg` (the client library's spelling, th_client_error_t in
 * thespian/client.h). Not synchronised: one thread fills it at a time. */
typedef struct th_diag {
    int code;
    union {
        char msg[512];     /* NUL-terminated */
        char message[512]; /* the same bytes */
    };
} th_diag_t;

/* Result a type-dispatch handler returns to defer to the next matching
 * entry (Thespian's "super"). Only meaningful from dispatch handlers. */
#define TH_SUPER 1

/* th_errname: stable name of an error code (Thespian exception name where
 * one exists). Pure function, thread-safe, never returns NULL. */
static inline const char *
th_errname(int rc)
{
    switch (rc) {
    case TH_OK: return "OK";
    case TH_EINVAL: return "InvalidActorSpecification";
    case TH_ENOMEM: return "OutOfMemory";
    case TH_ENOENT: return "NotFound";
    case TH_EABI: return "ABIMismatch";
    case TH_EFULL: return "MailboxFull";
    case TH_ETOOBIG: return "TooBig";
    case TH_ERESERVED: return "ReservedMessageType";
    case TH_EDEAD: return "DeadActor";
    case TH_ECLOSED: return "ActorSystemShutdown";
    case TH_ELIMIT: return "LimitReached";
    case TH_ETIMEDOUT: return "ActorSystemRequestTimeout";
    case TH_EEXIST: return "AlreadyExists";
    case TH_EIO: return "IOError";
    case TH_EFORMAT: return "MalformedInput";
    case TH_EADDR: return "InvalidActorAddress";
    case TH_EFAIL: return "ActorFailure";
    case TH_ENOCOMPAT: return "NoCompatibleSystemForActor";
    case TH_EBADSIG: return "BadSignature";
    case TH_EHASH: return "HashMismatch";
    case TH_EPERM: return "PermissionDenied";
    case TH_ESOURCE: return "InvalidActorSourceHash";
    case TH_ESTARTUP: return "ActorSystemStartupFailure";
    default: return "UnknownError";
    }
}

/* th_strerror: one-line human description of an error code. Pure function,
 * thread-safe, never returns NULL. */
static inline const char *
th_strerror(int rc)
{
    switch (rc) {
    case TH_OK: return "success";
    case TH_EINVAL: return "invalid argument";
    case TH_ENOMEM: return "out of memory";
    case TH_ENOENT: return "not found";
    case TH_EABI: return "plugin ABI mismatch";
    case TH_EFULL: return "mailbox full";
    case TH_ETOOBIG: return "payload over the size limit";
    case TH_ERESERVED: return "message type is reserved for the runtime";
    case TH_EDEAD: return "no live actor at that address";
    case TH_ECLOSED: return "actor system is shut down";
    case TH_ELIMIT: return "limit reached";
    case TH_ETIMEDOUT: return "timed out";
    case TH_EEXIST: return "already exists";
    case TH_EIO: return "I/O error";
    case TH_EFORMAT: return "malformed input";
    case TH_EADDR: return "invalid actor address";
    case TH_EFAIL: return "actor reported failure";
    case TH_ENOCOMPAT: return "no compatible system for actor";
    case TH_EBADSIG: return "bad signature";
    case TH_EHASH: return "hash mismatch";
    case TH_EPERM: return "permission denied";
    case TH_ESOURCE: return "invalid actor source hash";
    case TH_ESTARTUP: return "actor system failed to start";
    default: return "unknown error";
    }
}

#ifdef __cplusplus
}
#endif
#endif /* TH_SDK_ERROR_H */
