"""bluezero.media_player stand-in: the one device is playing."""


class MediaPlayer:
  def __init__(self, address):
    self.address = address
    self.status = 'playing'
    self.track = {'Artist': 'Check', 'Album': 'Stand-ins', 'Title': 'Silence', 'Duration': 0}
