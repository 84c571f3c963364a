import { register } from "node:module";

register("./block-optional-peers.mjs", import.meta.url);
