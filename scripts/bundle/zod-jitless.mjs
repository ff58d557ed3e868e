// Injected first into every command bundle (scripts/bundle.mjs). zod compiles a parser for each
// object schema (`new Function`) the first time it parses with it: worth it for a server that
// parses the same shapes many times, not for a CLI that parses each shape once or twice and exits.
// jitless is zod's other, interpreted path for the same checks (the one strict-CSP pages use):
// the same accepted values, the same issues, the same output. Must run before any schema is
// built, which is why it is injected rather than imported by a module.
import {config} from 'zod'

config({jitless: true})
