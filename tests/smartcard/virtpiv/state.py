"""The card's persistent state: one JSON file (card.json) in a state directory, rewritten
atomically after every change (keys, objects, PIN/PUK and their retry counters), so a card
process can be killed at any time and a new one continues where it stopped."""

import json
import os
import tempfile

from .keys import CardKey, ManagementKey

STATE_FILE = "card.json"


class CardState:
    def __init__(self, directory, data):
        self.directory = directory
        self.data = data
        self.keys = {slot: CardKey.from_state(entry) for slot, entry in data["keys"].items()}

    @classmethod
    def load(cls, directory):
        with open(os.path.join(directory, STATE_FILE)) as f:
            return cls(directory, json.load(f))

    @classmethod
    def create(cls, directory, data):
        os.makedirs(directory, exist_ok=True)
        state = cls(directory, data)
        state.save()
        return state

    def save(self):
        self.data["keys"] = {slot: key.to_state() for slot, key in self.keys.items()}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".card.")
        with os.fdopen(fd, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.directory, STATE_FILE))

    # Reference data (PIN 80, PUK 81) and their counters.
    def secret(self, ref):
        return self.data["pin" if ref == 0x80 else "puk"]

    def set_secret(self, ref, value):
        self.data["pin" if ref == 0x80 else "puk"] = value

    def tries_left(self, ref):
        return self.data["pin_tries_left" if ref == 0x80 else "puk_tries_left"]

    def set_tries_left(self, ref, n):
        self.data["pin_tries_left" if ref == 0x80 else "puk_tries_left"] = n

    def max_tries(self, ref):
        return self.data["pin_max_tries" if ref == 0x80 else "puk_max_tries"]

    def management_key(self):
        mk = self.data["management_key"]
        return ManagementKey(int(mk["alg"]), bytes.fromhex(mk["key"]))

    # Data objects, stored as the bytes GET DATA returns, keyed by the tag in hex.
    def get_object(self, tag_hex):
        value = self.data["objects"].get(tag_hex)
        return None if value is None else bytes.fromhex(value)

    def put_object(self, tag_hex, value):
        self.data["objects"][tag_hex] = value.hex()
