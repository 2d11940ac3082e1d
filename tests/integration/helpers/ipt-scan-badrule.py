#!/usr/bin/env python3
"""Adds to chain CHAIN of table ip nat a DNAT rule that the kernel accepts
but that lib/nftrule rejects as malformed: it compares the 1-byte
`meta l4proto` load with 2 bytes.  Neither iptables nor nft writes such a
rule, so it is sent over NETLINK_NETFILTER directly, as one nf_tables
batch.  Usage: ipt-scan-badrule.py CHAIN PORT

Message and attribute numbers: uapi linux/netfilter/nfnetlink.h and
linux/netfilter/nf_tables.h."""
import errno
import socket
import struct
import sys

NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE, NLM_F_APPEND = 0x1, 0x4, 0x400, 0x800
NLA_F_NESTED = 0x8000
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWRULE = 6
NFPROTO_IPV4 = 2


def attr(kind, payload):
    data = struct.pack('=HH', 4 + len(payload), kind) + payload
    return data + b'\0' * (-len(data) % 4)


def nest(kind, *children):
    return attr(kind | NLA_F_NESTED, b''.join(children))


def be32(value):
    return struct.pack('>I', value)


def expr(name, *fields):
    # NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { fields } }
    return nest(1, attr(1, name.encode() + b'\0'), nest(2, *fields))


def message(msg_type, flags, seq, family, res_id, body=b''):
    payload = struct.pack('=BBH', family, 0, socket.htons(res_id)) + body
    return struct.pack('=IHHII', 16 + len(payload), msg_type, flags, seq, 0) + payload


def main():
    chain, port = sys.argv[1], int(sys.argv[2])
    exprs = b''.join([
        # meta l4proto -> reg 1 (NFTA_META_DREG, NFTA_META_KEY = NFT_META_L4PROTO)
        expr('meta', attr(1, be32(1)), attr(2, be32(16))),
        # cmp eq reg 1 with 2 bytes: the malformed part
        expr('cmp', attr(1, be32(1)), attr(2, be32(0)), nest(3, attr(1, b'\x06\x00'))),
        # payload transport header + 2, 2 bytes -> reg 1; cmp eq PORT
        expr('payload', attr(1, be32(1)), attr(2, be32(2)), attr(3, be32(2)), attr(4, be32(2))),
        expr('cmp', attr(1, be32(1)), attr(2, be32(0)), nest(3, attr(1, struct.pack('>H', port)))),
        # immediate 10.4.0.9 -> reg 1, port 99 -> reg 2; nat dnat
        expr('immediate', attr(1, be32(1)), nest(2, attr(1, socket.inet_aton('10.4.0.9')))),
        expr('immediate', attr(1, be32(2)), nest(2, attr(1, struct.pack('>H', 99)))),
        expr('nat', attr(1, be32(1)), attr(2, be32(NFPROTO_IPV4)), attr(3, be32(1)),
             attr(5, be32(2))),
    ])
    rule = attr(1, b'nat\0') + attr(2, chain.encode() + b'\0') + nest(4, exprs)
    batch = (message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 1, 0, NFNL_SUBSYS_NFTABLES)
             + message(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE,
                       NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND, 2,
                       NFPROTO_IPV4, 0, rule)
             + message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 3, 0, NFNL_SUBSYS_NFTABLES))

    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
    sock.bind((0, 0))
    sock.sendto(batch, (0, 0))
    reply = sock.recv(65536)
    msg_type = struct.unpack_from('=IH', reply)[1]
    if msg_type != 2:
        sys.exit('unexpected reply type %d' % msg_type)
    error = struct.unpack_from('=i', reply, 16)[0]
    if error:
        sys.exit('adding the rule failed: %s' % errno.errorcode.get(-error, error))


main()
