// @hgm/data/node
