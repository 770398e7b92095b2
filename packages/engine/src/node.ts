// @hgm/engine/node
