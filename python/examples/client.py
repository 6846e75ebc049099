"""Request/response client (synchronous): connects, sends each argument as a
Request, prints each Response, says bye.

    python examples/client.py 'tcp|127.0.0.1|7099' hello world
"""
import sys
from typing import List

import tofu


def ask(address: str, questions: List[bytes], timeout: float = 10.0) -> List[bytes]:
    """Sends each question as a Request and returns the answers, in order."""
    answers = []
    with tofu.Engine() as engine, engine.group() as group:
        channel = group.connect(address, timeout=timeout)
        for q in questions:
            posted = group.send(channel, q)
            while True:
                msg = group.receive(timeout)
                if msg.opcode == tofu.Opcode.RESPONSE and msg.id == posted.id:
                    tofu.raise_for(msg.status, "request")
                    answers.append(msg.body)
                    break
        group.bye(channel)
        while True:  # ByeResponse, then the channel's close Signal
            msg = group.receive(timeout)
            if msg.from_engine and msg.status == tofu.Status.CHANNEL_CLOSED:
                break
    return answers


def main() -> None:
    address = sys.argv[1]
    for answer in ask(address, [a.encode() for a in sys.argv[2:]]):
        print(answer.decode(errors="replace"))


if __name__ == "__main__":
    main()
