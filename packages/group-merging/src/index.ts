// @hgm/group-merging: Hierarchical Group Merging: GroupViT-style assignment and ToMe bipartite merging of group tokens
