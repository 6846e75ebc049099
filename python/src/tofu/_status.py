"""Statuses and exceptions.

Every libtofu status (the status byte of the original tofu) is a member of
:class:`Status`; every error status has its own exception class, a subclass
of :class:`TofuError`, named after it (``shutdown_started`` raises
:class:`ShutdownStarted`). ``error_for(status)`` gives the class.

Generated from include/tofu.h's ``tofu_status``; keep the order.
"""
from __future__ import annotations

import enum
from typing import Dict, Optional, Type

__all__ = ["Status", "TofuError", "error_for", "raise_for"]


class Status(enum.IntEnum):
    """A libtofu status. ``str(status)`` is the original's snake_case name."""
    SUCCESS = 0
    NOT_IMPLEMENTED_YET = 1
    WRONG_ADDRESS = 2
    NOT_ALLOWED = 3
    NULL_MESSAGE = 4
    INVALID_MESSAGE = 5
    INVALID_OP_CODE = 6
    INVALID_HEADERS_LEN = 7
    INVALID_BODY_LEN = 8
    INVALID_MORE_USAGE = 9
    INVALID_CHANNEL_NUMBER = 10
    INVALID_MCHN_GROUP = 11
    INVALID_MESSAGE_ID = 12
    INVALID_ADDRESS = 13
    UDS_PATH_NOT_FOUND = 14
    NOTIFICATION_DISABLED = 15
    NOTIFICATION_FAILED = 16
    PEER_DISCONNECTED = 17
    COMMUNICATION_FAILED = 18
    POOL_EMPTY = 19
    ALLOCATION_FAILED = 20
    RECEIVER_UPDATE = 21
    CHANNEL_CLOSED = 22
    SHUTDOWN_STARTED = 23
    CONNECT_FAILED = 24
    LISTEN_FAILED = 25
    ACCEPT_FAILED = 26
    SEND_FAILED = 27
    RECV_FAILED = 28
    SETSOCKOPT_FAILED = 29
    PROCESSING_FAILED = 30
    UNKNOWN_ERROR = 31

    @property
    def tofu_name(self) -> str:
        """The snake_case name of the original ("invelid_mchn_group", sic)."""
        return _NAMES[self.value]

    def __str__(self) -> str:
        return self.tofu_name

    @classmethod
    def from_byte(cls, raw: int) -> "Status":
        """A raw status byte: values >= 31 read as UNKNOWN_ERROR."""
        return cls(raw) if 0 <= raw < 31 else cls.UNKNOWN_ERROR


_NAMES = ['success', 'not_implemented_yet', 'wrong_address', 'not_allowed', 'null_message', 'invalid_message', 'invalid_op_code', 'invalid_headers_len', 'invalid_body_len', 'invalid_more_usage', 'invalid_channel_number', 'invelid_mchn_group', 'invalid_message_id', 'invalid_address', 'uds_path_not_found', 'notification_disabled', 'notification_failed', 'peer_disconnected', 'communication_failed', 'pool_empty', 'allocation_failed', 'receiver_update', 'channel_closed', 'shutdown_started', 'connect_failed', 'listen_failed', 'accept_failed', 'send_failed', 'recv_failed', 'setsockopt_failed', 'processing_failed', 'unknown_error']


class TofuError(Exception):
    """A libtofu call failed. ``status`` says why (a :class:`Status`)."""

    status: Status = Status.UNKNOWN_ERROR

    def __init__(self, message: Optional[str] = None, status: Optional[Status] = None) -> None:
        if status is not None:
            self.status = status
        super().__init__(message or str(self.status))


class NotImplementedYet(TofuError):
    """Status ``not_implemented_yet``."""

    status = Status.NOT_IMPLEMENTED_YET


class WrongAddress(TofuError):
    """Status ``wrong_address``."""

    status = Status.WRONG_ADDRESS


class NotAllowed(TofuError):
    """Status ``not_allowed``."""

    status = Status.NOT_ALLOWED


class NullMessage(TofuError):
    """Status ``null_message``."""

    status = Status.NULL_MESSAGE


class InvalidMessage(TofuError):
    """Status ``invalid_message``."""

    status = Status.INVALID_MESSAGE


class InvalidOpCode(TofuError):
    """Status ``invalid_op_code``."""

    status = Status.INVALID_OP_CODE


class InvalidHeadersLen(TofuError):
    """Status ``invalid_headers_len``."""

    status = Status.INVALID_HEADERS_LEN


class InvalidBodyLen(TofuError):
    """Status ``invalid_body_len``."""

    status = Status.INVALID_BODY_LEN


class InvalidMoreUsage(TofuError):
    """Status ``invalid_more_usage``."""

    status = Status.INVALID_MORE_USAGE


class InvalidChannelNumber(TofuError):
    """Status ``invalid_channel_number``."""

    status = Status.INVALID_CHANNEL_NUMBER


class InvalidMchnGroup(TofuError):
    """Status ``invelid_mchn_group``."""

    status = Status.INVALID_MCHN_GROUP


class InvalidMessageId(TofuError):
    """Status ``invalid_message_id``."""

    status = Status.INVALID_MESSAGE_ID


class InvalidAddress(TofuError):
    """Status ``invalid_address``."""

    status = Status.INVALID_ADDRESS


class UdsPathNotFound(TofuError):
    """Status ``uds_path_not_found``."""

    status = Status.UDS_PATH_NOT_FOUND


class NotificationDisabled(TofuError):
    """Status ``notification_disabled``."""

    status = Status.NOTIFICATION_DISABLED


class NotificationFailed(TofuError):
    """Status ``notification_failed``."""

    status = Status.NOTIFICATION_FAILED


class PeerDisconnected(TofuError):
    """Status ``peer_disconnected``."""

    status = Status.PEER_DISCONNECTED


class CommunicationFailed(TofuError):
    """Status ``communication_failed``."""

    status = Status.COMMUNICATION_FAILED


class PoolEmpty(TofuError):
    """Status ``pool_empty``."""

    status = Status.POOL_EMPTY


class AllocationFailed(TofuError):
    """Status ``allocation_failed``."""

    status = Status.ALLOCATION_FAILED


class ReceiverUpdate(TofuError):
    """Status ``receiver_update``."""

    status = Status.RECEIVER_UPDATE


class ChannelClosed(TofuError):
    """Status ``channel_closed``."""

    status = Status.CHANNEL_CLOSED


class ShutdownStarted(TofuError):
    """Status ``shutdown_started``."""

    status = Status.SHUTDOWN_STARTED


class ConnectFailed(TofuError):
    """Status ``connect_failed``."""

    status = Status.CONNECT_FAILED


class ListenFailed(TofuError):
    """Status ``listen_failed``."""

    status = Status.LISTEN_FAILED


class AcceptFailed(TofuError):
    """Status ``accept_failed``."""

    status = Status.ACCEPT_FAILED


class SendFailed(TofuError):
    """Status ``send_failed``."""

    status = Status.SEND_FAILED


class RecvFailed(TofuError):
    """Status ``recv_failed``."""

    status = Status.RECV_FAILED


class SetsockoptFailed(TofuError):
    """Status ``setsockopt_failed``."""

    status = Status.SETSOCKOPT_FAILED


class ProcessingFailed(TofuError):
    """Status ``processing_failed``."""

    status = Status.PROCESSING_FAILED


class UnknownError(TofuError):
    """Status ``unknown_error``."""

    status = Status.UNKNOWN_ERROR


_BY_STATUS: Dict[int, Type[TofuError]] = {c.status.value: c for c in (
    NotImplementedYet,
    WrongAddress,
    NotAllowed,
    NullMessage,
    InvalidMessage,
    InvalidOpCode,
    InvalidHeadersLen,
    InvalidBodyLen,
    InvalidMoreUsage,
    InvalidChannelNumber,
    InvalidMchnGroup,
    InvalidMessageId,
    InvalidAddress,
    UdsPathNotFound,
    NotificationDisabled,
    NotificationFailed,
    PeerDisconnected,
    CommunicationFailed,
    PoolEmpty,
    AllocationFailed,
    ReceiverUpdate,
    ChannelClosed,
    ShutdownStarted,
    ConnectFailed,
    ListenFailed,
    AcceptFailed,
    SendFailed,
    RecvFailed,
    SetsockoptFailed,
    ProcessingFailed,
    UnknownError,
)}


def error_for(status: int) -> Type[TofuError]:
    """The exception class of an error status."""
    return _BY_STATUS.get(int(status), UnknownError)


def raise_for(status: int, what: str = "") -> None:
    """Raises the status's exception unless it is success."""
    if status != 0:
        st = Status.from_byte(int(status))
        raise error_for(st)(f"{what}: {st}" if what else str(st), st)


__all__ += ['NotImplementedYet', 'WrongAddress', 'NotAllowed', 'NullMessage', 'InvalidMessage', 'InvalidOpCode', 'InvalidHeadersLen', 'InvalidBodyLen', 'InvalidMoreUsage', 'InvalidChannelNumber', 'InvalidMchnGroup', 'InvalidMessageId', 'InvalidAddress', 'UdsPathNotFound', 'NotificationDisabled', 'NotificationFailed', 'PeerDisconnected', 'CommunicationFailed', 'PoolEmpty', 'AllocationFailed', 'ReceiverUpdate', 'ChannelClosed', 'ShutdownStarted', 'ConnectFailed', 'ListenFailed', 'AcceptFailed', 'SendFailed', 'RecvFailed', 'SetsockoptFailed', 'ProcessingFailed', 'UnknownError']
