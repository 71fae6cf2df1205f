"""Telling people what the acceptor did: messages, their renderings per channel, and delivery.

`message` turns a bus event into a neutral `Message`; `render` turns a message into what one
channel type expects; `channels` says which channels hear about an event; `dispatch` delivers to
each of them through injected senders. None of these modules talks to AWS.
"""
