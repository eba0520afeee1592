/**
 * Route scoping for the middleware's rules: `GET /users/:id`, `/health` (any method),
 * `POST /admin/*`, `*` (everything). `:name` is one path segment, `*` the rest of the
 * path (a trailing `/*` also matches the bare prefix).
 *
 * Kept behind this one function so that the middleware can switch to core's shared
 * route matcher when it lands, by changing only this file.
 */
export function compileRoute(pattern: string): (method: string, path: string) => boolean {
  const text = pattern.trim()
  if (text === '*' || text === '') return () => true
  const space = text.indexOf(' ')
  const method = space > 0 ? text.slice(0, space).toUpperCase() : undefined
  const template = space > 0 ? text.slice(space + 1).trim() : text
  if (!template.startsWith('/') && template !== '*') {
    throw new TypeError(`route "${pattern}" must be "[METHOD ]/path", e.g. "GET /users/:id"`)
  }
  const re = template === '*' ? /^/ : templateToRegExp(template)
  if (method === undefined || method === '*') return (_m, path) => re.test(path)
  return (m, path) => (m === method || m.toUpperCase() === method) && re.test(path)
}

function templateToRegExp(template: string): RegExp {
  let source = ''
  for (const segment of template.split('/')) {
    if (source !== '' || segment !== '') source += '/'
    if (segment === '*') source += '.*'
    else if (segment.startsWith(':')) source += '[^/]+'
    else source += segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  }
  if (source.endsWith('/.*')) source = `${source.slice(0, -3)}(?:/.*)?`
  return new RegExp(`^${source === '' ? '/' : source}$`)
}
