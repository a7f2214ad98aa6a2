"""Planning: the workspace's files and the environment → a Plan.

Pure: reads files, never Docker and never ``sh``; every bad input is a ConfigError here,
before anything is touched.  (links.apply_links, the one writer, writes feature symlinks
when execute calls it.)
"""
