# expect: WRONG_RESULT
# why: setdefault is atomic, but its argument factory() is evaluated on every call, even for a cached key.
class Cache:
    def __init__(self):
        self._values = {}

    def get_or_create(self, key, factory):
        return self._values.setdefault(key, factory())
