// @hgm/backbone/node
