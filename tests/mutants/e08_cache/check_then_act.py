# expect: RACE
# why: checks for the key and creates it without any lock, so two threads can both find it missing.
class Cache:
    def __init__(self):
        self._values = {}

    def get_or_create(self, key, factory):
        if key not in self._values:
            self._values[key] = factory()
        return self._values[key]
