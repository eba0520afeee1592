// README code blocks: every ```ts block of every published package's README, each turned
// into a standalone module. A block that uses a name it does not declare or import (a
// fragment: `app.use(...)`) gets that name from the package's prelude
// (consumers/preludes/<dir>.ts) — only the prelude statements it needs, never edits to
// the README.
//
// Classification (see consumers/README.md):
// - every ```ts / ```typescript block is type-checked;
// - a block is also RUN unless its info string says `no-run` (```ts no-run) or it needs a
//   prelude statement without a runtime value (a `declare`d name);
// - a block that needs a name nobody provides still compiles: tsc reports it (TS2304).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'

/**
 * @typedef {object} Block
 * @property {string} pkg        package name
 * @property {string} dir        package folder name
 * @property {string} subject    stable id within the package: README:<heading-slug>:<n>
 * @property {string} file       base file name for the generated module, e.g. 03-quick-start-1
 * @property {string} where      packages/<dir>/README.md:<line of the fence>
 * @property {number} line       first code line in the README (1-based)
 * @property {string} code       the block as written
 * @property {string[]} flags    info-string words after the language
 * @property {string} source     prelude part + block: what is compiled
 * @property {number} preludeLines lines of `source` before the block
 * @property {boolean} runnable
 * @property {string} [notRunWhy]
 * @property {string[]} imports  module specifiers the source imports (block and prelude)
 * @property {{ method: string, path: string }[]} routes  paths to request when it runs
 * @property {boolean} declaresApp whether the module has a top-level `app`
 */

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/

/** Extracts the ```ts blocks of one README. */
export function readmeBlocks(pkg) {
  const file = join(pkg.path, 'README.md')
  if (!existsSync(file)) return []
  const lines = readFileSync(file, 'utf8').split('\n')
  const blocks = []
  let heading = 'top'
  const perHeading = new Map()
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i])
    if (open === null) {
      const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(lines[i])
      if (h) heading = slug(h[1])
      continue
    }
    const fence = open[1]
    const info = open[2].trim().split(/\s+/).filter(Boolean)
    const start = i + 1
    let end = start
    while (end < lines.length && !lines[end].trimStart().startsWith(fence)) end++
    const lang = (info[0] ?? '').toLowerCase()
    if (lang === 'ts' || lang === 'typescript') {
      const n = (perHeading.get(heading) ?? 0) + 1
      perHeading.set(heading, n)
      blocks.push({
        pkg: pkg.name,
        dir: pkg.dir,
        subject: `README:${heading}:${n}`,
        file: `${String(blocks.length + 1).padStart(2, '0')}-${heading}-${n}`.slice(0, 80),
        where: `packages/${pkg.dir}/README.md:${i + 1}`,
        line: start + 1,
        code: lines.slice(start, end).join('\n'),
        flags: info.slice(1).map((f) => f.toLowerCase()),
      })
    }
    i = end
  }
  return blocks
}

/** GitHub-style heading anchor. */
function slug(text) {
  return (
    text
      .toLowerCase()
      .replace(/[`*_[\]()]/g, '')
      .replace(/[^a-z0-9\s-]/g, '')
      .trim()
      .replace(/\s+/g, '-') || 'section'
  )
}

/**
 * Resolves every block of one package against its prelude (if any): fills `source`,
 * `preludeLines`, `runnable`, `imports`, `routes`, `declaresApp`.
 *
 * @param {Block[]} blocks of one package
 * @param {string | undefined} preludeFile
 */
export function resolveBlocks(blocks, preludeFile) {
  const preludeText =
    preludeFile && existsSync(preludeFile) ? readFileSync(preludeFile, 'utf8') : ''
  const files = new Map(blocks.map((b, i) => [`/blocks/${i}.ts`, b.code]))
  files.set('/prelude.ts', preludeText)
  const program = virtualProgram(files)
  const checker = program.getTypeChecker()
  const prelude = analysePrelude(program.getSourceFile('/prelude.ts'), checker)

  blocks.forEach((b, i) => {
    const sf = program.getSourceFile(`/blocks/${i}.ts`)
    const { free, values } = freeNames(sf, checker)
    // The prelude statements this block needs, with what those need in turn.
    const wanted = new Set()
    const want = (names) => {
      const queue = names.filter((n) => prelude.byName.has(n) && !wanted.has(n))
      for (const n of queue) wanted.add(n)
      while (queue.length > 0) {
        for (const dep of prelude.byName.get(queue.pop()).deps) {
          if (!wanted.has(dep)) {
            wanted.add(dep)
            queue.push(dep)
          }
        }
      }
    }
    want([...free])
    // Statements that declare nothing (`app.onError(...)`) come with the declarations they
    // use, when the block takes all of those from the prelude.
    const extras = new Set()
    for (let changed = true; changed; ) {
      changed = false
      for (const stmt of prelude.statements) {
        if (stmt.kind !== 'stmt' || extras.has(stmt)) continue
        const subjects = stmt.deps.filter((d) => prelude.byName.get(d)?.kind === 'decl')
        if (subjects.length > 0 && subjects.every((d) => wanted.has(d))) {
          extras.add(stmt)
          want(stmt.deps)
          changed = true
        }
      }
    }
    const parts = []
    const ambient = []
    for (const stmt of prelude.statements) {
      if (stmt.kind === 'stmt') {
        if (extras.has(stmt)) parts.push(stmt.text)
        continue
      }
      const names = stmt.names.filter((n) => wanted.has(n))
      if (names.length === 0) continue
      if (stmt.ambient) ambient.push(...names)
      parts.push(stmt.kind === 'import' ? stmt.print(names) : stmt.text)
    }
    const unknown = [...values].filter((n) => !wanted.has(n) && !(n in globalThis))
    const head = parts.length > 0 ? `${parts.join('\n')}\n// ---- README block ----\n` : ''
    b.source = `${head}${b.code}\n`
    b.preludeLines = head === '' ? 0 : head.split('\n').length - 1
    b.imports = [...new Set([...moduleSpecifiers(sf), ...prelude.imports(wanted)])]
    b.routes = routes(sf)
    b.declaresApp = topLevelNames(sf).has('app') || wanted.has('app')
    if (b.flags.includes('no-run')) {
      b.runnable = false
      b.notRunWhy = 'marked no-run'
    } else if (unknown.length > 0) {
      b.runnable = false
      b.notRunWhy = `uses names nothing declares: ${unknown.join(', ')}`
    } else if (ambient.length > 0) {
      b.runnable = false
      b.notRunWhy = `uses declared-only prelude names: ${ambient.join(', ')}`
    } else {
      b.runnable = true
    }
  })
  return blocks
}

function virtualProgram(files) {
  const options = {
    noLib: true,
    noResolve: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleDetection: ts.ModuleDetectionKind.Force,
  }
  const sources = new Map()
  for (const [name, text] of files) {
    // Every block is a module of its own (moduleDetection: force), never a global script.
    const sf = ts.createSourceFile(
      name,
      text,
      {
        languageVersion: ts.ScriptTarget.ES2022,
        setExternalModuleIndicator: (file) => {
          file.externalModuleIndicator = true
        },
      },
      true,
      ts.ScriptKind.TS,
    )
    sources.set(name, sf)
  }
  const host = {
    getSourceFile: (name) => sources.get(name),
    getDefaultLibFileName: () => '/lib.d.ts',
    writeFile: () => {},
    getCurrentDirectory: () => '/',
    getCanonicalFileName: (f) => f,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => '\n',
    fileExists: (f) => sources.has(f),
    readFile: (f) => files.get(f),
  }
  return ts.createProgram([...files.keys()], options, host)
}

/**
 * Identifiers a file uses without declaring or importing them: all of them, and those in
 * value positions (the ones that matter at run time).
 */
function freeNames(sf, checker) {
  const free = new Set()
  const values = new Set()
  const visit = (node, inType) => {
    const typeContext =
      inType ||
      ts.isTypeNode(node) ||
      ts.isInterfaceDeclaration(node) ||
      ts.isTypeAliasDeclaration(node) ||
      (ts.isHeritageClause(node) &&
        (ts.isInterfaceDeclaration(node.parent) ||
          node.token === ts.SyntaxKind.ImplementsKeyword)) ||
      (ts.isModuleDeclaration(node) &&
        (ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Ambient) !== 0)
    if (ts.isIdentifier(node) && isReference(node)) {
      const symbol = ts.isShorthandPropertyAssignment(node.parent)
        ? checker.getShorthandAssignmentValueSymbol(node.parent)
        : checker.getSymbolAtLocation(node)
      if (symbol === undefined) {
        free.add(node.text)
        if (!typeContext) values.add(node.text)
      }
    }
    ts.forEachChild(node, (child) => visit(child, typeContext))
  }
  visit(sf, false)
  return { free, values }
}

function isReference(id) {
  const p = id.parent
  if (p === undefined) return false
  if (ts.isPropertyAccessExpression(p) && p.name === id) return false
  if (ts.isQualifiedName(p) && p.right === id) return false
  if (
    (ts.isPropertyAssignment(p) ||
      ts.isPropertySignature(p) ||
      ts.isPropertyDeclaration(p) ||
      ts.isMethodDeclaration(p) ||
      ts.isMethodSignature(p) ||
      ts.isGetAccessorDeclaration(p) ||
      ts.isSetAccessorDeclaration(p) ||
      ts.isEnumMember(p)) &&
    p.name === id
  ) {
    return false
  }
  if (ts.isBindingElement(p) && p.propertyName === id) return false
  if ((ts.isImportSpecifier(p) || ts.isExportSpecifier(p)) && p.propertyName === id) return false
  if (ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p)) return false
  if (ts.isImportTypeNode(p) || ts.isModuleDeclaration(p)) return false
  return true
}

function topLevelNames(sf) {
  const names = new Set()
  for (const stmt of sf.statements) for (const n of declaredNames(stmt)) names.add(n)
  return names
}

function declaredNames(stmt) {
  if (ts.isImportDeclaration(stmt)) {
    const c = stmt.importClause
    if (c === undefined) return []
    const names = c.name ? [c.name.text] : []
    const b = c.namedBindings
    if (b && ts.isNamespaceImport(b)) names.push(b.name.text)
    if (b && ts.isNamedImports(b)) for (const e of b.elements) names.push(e.name.text)
    return names
  }
  if (ts.isVariableStatement(stmt)) {
    return stmt.declarationList.declarations.flatMap((d) => bindingNames(d.name))
  }
  if (
    (ts.isFunctionDeclaration(stmt) ||
      ts.isClassDeclaration(stmt) ||
      ts.isInterfaceDeclaration(stmt) ||
      ts.isTypeAliasDeclaration(stmt) ||
      ts.isEnumDeclaration(stmt)) &&
    stmt.name
  ) {
    return [stmt.name.text]
  }
  if (ts.isModuleDeclaration(stmt) && ts.isIdentifier(stmt.name)) return [stmt.name.text]
  return []
}

function bindingNames(name) {
  if (ts.isIdentifier(name)) return [name.text]
  return name.elements.flatMap((e) => (ts.isOmittedExpression(e) ? [] : bindingNames(e.name)))
}

function isAmbient(stmt) {
  if (ts.isInterfaceDeclaration(stmt) || ts.isTypeAliasDeclaration(stmt)) return false
  return (ts.getCombinedModifierFlags(stmt) & ts.ModifierFlags.Ambient) !== 0
}

/**
 * The prelude as statements: which names each declares, which prelude names it uses, and
 * whether it has no runtime value (`declare`). A statement that declares nothing (`stmt`)
 * goes with the declarations it uses.
 */
function analysePrelude(sf, checker) {
  const statements = []
  const byName = new Map()
  const printer = ts.createPrinter({ removeComments: true })
  for (const stmt of sf.statements) {
    const names = declaredNames(stmt)
    const declares = names.length > 0 || ts.isImportDeclaration(stmt)
    const deps = new Set()
    const visit = (node) => {
      if (ts.isIdentifier(node) && isReference(node)) {
        const symbol = checker.getSymbolAtLocation(node)
        const decl = symbol?.declarations?.[0]
        if (decl) {
          let top = decl
          while (top.parent && top.parent !== sf) top = top.parent
          if (top !== stmt && top.parent === sf) deps.add(node.text)
        }
      }
      ts.forEachChild(node, visit)
    }
    if (!ts.isImportDeclaration(stmt)) visit(stmt)
    const entry = {
      kind: ts.isImportDeclaration(stmt) ? 'import' : declares ? 'decl' : 'stmt',
      names,
      deps: [...deps],
      ambient: isAmbient(stmt),
      text: stmt.getText(sf),
      module: ts.isImportDeclaration(stmt) ? stmt.moduleSpecifier.text : undefined,
      print: (keep) => printImport(stmt, keep, printer, sf),
    }
    statements.push(entry)
    for (const n of names) byName.set(n, entry)
  }
  return {
    statements,
    byName,
    imports: (wanted) =>
      statements.filter((s) => s.module && s.names.some((n) => wanted.has(n))).map((s) => s.module),
  }
}

function printImport(stmt, keep, printer, sf) {
  const c = stmt.importClause
  const keepSet = new Set(keep)
  const name = c.name && keepSet.has(c.name.text) ? c.name : undefined
  let bindings = c.namedBindings
  if (bindings && ts.isNamespaceImport(bindings) && !keepSet.has(bindings.name.text)) {
    bindings = undefined
  }
  if (bindings && ts.isNamedImports(bindings)) {
    const elements = bindings.elements.filter((e) => keepSet.has(e.name.text))
    bindings = elements.length > 0 ? ts.factory.updateNamedImports(bindings, elements) : undefined
  }
  const clause = ts.factory.updateImportClause(c, c.isTypeOnly, name, bindings)
  const updated = ts.factory.updateImportDeclaration(
    stmt,
    stmt.modifiers,
    clause,
    stmt.moduleSpecifier,
    stmt.attributes,
  )
  return printer.printNode(ts.EmitHint.Unspecified, updated, sf)
}

function moduleSpecifiers(sf) {
  const specs = []
  for (const stmt of sf.statements) {
    if (
      (ts.isImportDeclaration(stmt) || ts.isExportDeclaration(stmt)) &&
      stmt.moduleSpecifier &&
      ts.isStringLiteral(stmt.moduleSpecifier)
    ) {
      specs.push(stmt.moduleSpecifier.text)
    }
  }
  return specs
}

const ROUTE_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'all', 'on', 'route'])

/**
 * Paths worth requesting when the block runs: every string literal that looks like a URL
 * path (`'/orders/:id'` becomes `/orders/1`), with the HTTP method of the `app.post(...)`
 * call it is the first argument of, else GET. None when the block requests its app itself.
 */
function routes(sf) {
  const found = new Map()
  let selfTested = false
  const visit = (node) => {
    // A block that calls app.request() exercises its app itself (with its own clock).
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'request' &&
      ts.isIdentifier(node.expression.expression) &&
      node.expression.expression.text === 'app'
    ) {
      selfTested = true
    }
    if (
      (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) &&
      /^\/[\w\-.:~/*?{}]*$/.test(node.text) &&
      !ts.isImportDeclaration(node.parent) &&
      !ts.isModuleDeclaration(node.parent)
    ) {
      let method = 'GET'
      const call = node.parent
      if (
        ts.isCallExpression(call) &&
        call.arguments[0] === node &&
        ts.isPropertyAccessExpression(call.expression) &&
        ROUTE_METHODS.has(call.expression.name.text)
      ) {
        const m = call.expression.name.text
        method = ['get', 'all', 'on', 'route'].includes(m) ? 'GET' : m.toUpperCase()
      }
      const path = node.text
        .replace(/\/\*$/, '/x')
        .replace(/:(\w+)(\{[^}]*\})?\??/g, '1')
        .replace(/\*/g, 'x')
      found.set(`${method} ${path}`, { method, path })
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return selfTested ? [] : [...found.values()].slice(0, 8)
}

/** Runnable variant: transpiled to JS, exporting the Hono-style `app` for the driver. */
export function runnableJs(block) {
  const tail = block.declaresApp ? '\nexport { app as __sturdyApp }\n' : ''
  return ts.transpileModule(block.source + tail, {
    fileName: `${block.file}.ts`,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      isolatedModules: true,
      verbatimModuleSyntax: false,
    },
  }).outputText
}
