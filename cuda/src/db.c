/* db.c — builds the database from ResFinder and PointFinder source folders; info JSON. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

/* ---- builder ------------------------------------------------------------------------------ */

typedef struct tdraft_t {
  char *name, *gene, *acc, *cls, *pheno, *species, *mech;
  char *seq; uint32_t len;
  uint32_t kind; int32_t promoter_len; uint32_t is_rna;
} tdraft_t;

typedef struct sdraft_t {
  uint32_t target; int32_t pos; uint32_t type;
  char *ref, *ref_codon, *alts, *cls, *pheno, *pmid, *mech;
} sdraft_t;

typedef struct builder_t {
  tdraft_t *t; uint32_t nt, capt;
  sdraft_t *s; uint32_t ns, caps;
  bg_buf_t warnings; uint32_t n_warnings;
  uint32_t n_species;
  char rf_version[64], pf_version[64]; /* the sources' versions (VERSION file, or ResFinder's history.txt date) */
  char *err; size_t err_len;
} builder_t;

static char *xstrndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (p) { memcpy(p, s, n); p[n] = 0; }
  return p;
}
static char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

static void warn(builder_t *b, const char *fmt, const char *a, const char *c) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, a, c);
  bg_buf_puts(&b->warnings, b->n_warnings ? "," : "");
  bg_buf_json_str(&b->warnings, msg);
  b->n_warnings++;
}

static void trim_right(char *s) {
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
}

/** Appends `add` to a ", "-joined list unless already present. Returns the new malloc'ed list. */
static char *join_unique(char *list, const char *add, const char *sep) {
  if (!add || !*add) return list;
  if (!list || !*list) { free(list); return xstrdup(add); }
  size_t la = strlen(add), ls = strlen(sep);
  for (const char *p = list; p && *p;) {
    const char *e = strstr(p, sep);
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == la && strncmp(p, add, la) == 0) return list;
    p = e ? e + ls : NULL;
  }
  size_t n = strlen(list);
  char *r = realloc(list, n + ls + la + 1);
  if (!r) return list;
  memcpy(r + n, sep, ls);
  memcpy(r + n + ls, add, la + 1);
  return r;
}

static tdraft_t *add_target(builder_t *b) {
  if (b->nt == b->capt) {
    uint32_t cap = b->capt ? b->capt * 2 : 1024;
    tdraft_t *n = realloc(b->t, cap * sizeof *n);
    if (!n) return NULL;
    b->t = n; b->capt = cap;
  }
  tdraft_t *t = &b->t[b->nt++];
  memset(t, 0, sizeof *t);
  return t;
}

/** Splits a ResFinder header `gene_variant_accession` (gene may contain '_'). */
static void split_header(const char *name, char **gene, char **acc) {
  const char *p = name;
  for (;;) {
    const char *u = strchr(p, '_');
    if (!u) break;
    const char *d = u + 1;
    if (isdigit((unsigned char)*d)) {
      while (isdigit((unsigned char)*d)) d++;
      if (*d == '_' && u > name) { *gene = xstrndup(name, (size_t)(u - name)); *acc = xstrdup(d + 1); return; }
    }
    p = u + 1;
  }
  *gene = xstrdup(name);
  *acc = xstrdup("");
}

static const uint8_t *norm_table(void) {
  static uint8_t t[256];
  static int ready = 0;
  if (!ready) {
    for (int i = 0; i < 256; i++) t[i] = 'N';
    t['A'] = t['a'] = 'A'; t['C'] = t['c'] = 'C'; t['G'] = t['g'] = 'G'; t['T'] = t['t'] = 'T';
    t['U'] = t['u'] = 'T';
    ready = 1;
  }
  return t;
}

typedef void (*fasta_fn)(builder_t *b, char *name, char *seq, uint32_t len, void *ctx);

/** Parses FASTA text (modified in place); calls fn per record. Returns records seen or -1 on a bad file. */
static int parse_fasta(builder_t *b, char *text, fasta_fn fn, void *ctx) {
  const uint8_t *nt = norm_table();
  int n = 0;
  char *p = text;
  while (*p && *p != '>') {
    if (!isspace((unsigned char)*p)) return -1;
    p++;
  }
  while (*p == '>') {
    char *eol = strchr(p, '\n');
    const char *h = p + 1;
    while (h < (eol ? eol : h + strlen(h)) && (*h == ' ' || *h == '\t')) h++; /* "> erm(N)_2_MZ015744" */
    char *name = xstrndup(h, eol ? (size_t)(eol - h) : strlen(h));
    trim_right(name);
    p = eol ? eol + 1 : p + strlen(p);
    size_t cap = 4096, len = 0;
    char *seq = malloc(cap);
    while (*p && *p != '>') {
      unsigned char c = (unsigned char)*p++;
      if (isspace(c)) continue;
      if (len + 1 >= cap) { cap *= 2; seq = realloc(seq, cap); }
      seq[len++] = (char)nt[c];
    }
    seq[len] = 0;
    if (len > 0 && *name) { fn(b, name, seq, (uint32_t)len, ctx); n++; }
    else { free(name); free(seq); }
  }
  return n;
}

/* ---- source versions ---------------------------------------------------------------------- */

/** Copies the first non-blank line of text (printable characters, trimmed) into out. */
static void first_line(const char *text, size_t len, char *out, size_t cap) {
  size_t i = 0, n = 0;
  while (i < len && isspace((unsigned char)text[i])) i++;
  for (; i < len && text[i] != '\n' && text[i] != '\r' && n + 1 < cap; i++)
    if ((unsigned char)text[i] >= 0x20 && text[i] != 0x7f) out[n++] = text[i];
  out[n] = 0;
  trim_right(out);
}

/** The contents of dir/name (the caller frees them), or NULL when it cannot be read. */
static char *slurp_in(const char *dir, const char *name, size_t *len) {
  char path[4096], *text;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return bg_slurp(path, &text, len, NULL, 0) == BG_OK ? text : NULL;
}

/** dir/VERSION's first line into out; 0 when the file is missing or blank. */
static int read_version_file(const char *dir, char *out, size_t cap) {
  size_t len;
  char *text = slurp_in(dir, "VERSION", &len);
  out[0] = 0;
  if (!text) return 0;
  first_line(text, len, out, cap);
  free(text);
  return out[0] != 0;
}

/** The newest date (YYYY-MM-DD at a line's start) in dir/history.txt into out; 0 when there is none. */
static int newest_history_date(const char *dir, char *out, size_t cap) {
  size_t len;
  char *text = slurp_in(dir, "history.txt", &len);
  out[0] = 0;
  if (!text) return 0;
  char best[11] = "";
  for (size_t i = 0; i < len;) {
    const char *l = text + i;
    size_t n = 0;
    while (i + n < len && l[n] != '\n') n++;
    int date = n >= 10 && (n == 10 || !isdigit((unsigned char)l[10]));
    for (int k = 0; k < 10 && date; k++) date = (k == 4 || k == 7) ? l[k] == '-' : isdigit((unsigned char)l[k]) != 0;
    if (date && memcmp(l, best, 10) > 0) { memcpy(best, l, 10); best[10] = 0; }
    i += n + 1;
  }
  free(text);
  snprintf(out, cap, "%s", best);
  return out[0] != 0;
}

/* The versions are kept in the string table as its second string, "\x01" + key=value pairs joined by \x1f
 * (the first string is the empty one every missing field points at); an index without it (older builds)
 * reports both versions as "". */
#define META_MARK '\x01'
#define META_SEP '\x1f'

/** The value of key in the database's version record, or "" (copied into out). */
static void meta_value(const bg_db_t *db, const char *key, char *out, size_t cap) {
  out[0] = 0;
  if (!db->strings || db->strings_len < 3 || db->strings[0] != 0 || db->strings[1] != META_MARK) return;
  const char *p = db->strings + 2, *end = memchr(p, 0, db->strings_len - 2);
  if (!end) return;
  size_t kl = strlen(key);
  while (p < end) {
    const char *e = memchr(p, META_SEP, (size_t)(end - p));
    if (!e) e = end;
    if ((size_t)(e - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
      snprintf(out, cap, "%.*s", (int)(e - p - (ptrdiff_t)kl - 1), p + kl + 1);
      return;
    }
    p = e + 1;
  }
}

/* ---- ResFinder ---------------------------------------------------------------------------- */

typedef struct pheno_t { char *key, *cls, *pheno, *mech; size_t row; } pheno_t;
typedef struct rf_ctx_t { pheno_t *ph; size_t nph; const char *file_class; } rf_ctx_t;

static int cmp_pheno(const void *a, const void *b) { return strcmp(((const pheno_t *)a)->key, ((const pheno_t *)b)->key); }
/** Key order, then file order (qsort is not stable): an allele's rows stay in the order of phenotypes.txt. */
static int cmp_pheno_row(const void *a, const void *b) {
  const pheno_t *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : (x->row < y->row ? -1 : x->row > y->row);
}

/** Adds each item of a comma-separated list to a ", "-joined list (items trimmed, repeats left out). */
static char *join_items(char *list, const char *csv) {
  char *copy = xstrdup(csv), *save = NULL;
  for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
    while (isspace((unsigned char)*a)) a++;
    trim_right(a);
    list = join_unique(list, a, ", ");
  }
  free(copy);
  return list ? list : xstrdup("");
}

/** Adds a mechanism of resistance to a "; "-joined list, repeats left out (one may hold commas: "Efflux pump
 * Must be in an operon with oqxA,phenotype differs …"). */
static char *join_mech(char *list, const char *mech) {
  if (mech[0]) list = join_unique(list, mech, "; ");
  return list ? list : xstrdup("");
}

/** Merges the rows of one allele (sorted, adjacent) into one entry: the union of their classes, of their
 * phenotypes and of their mechanisms, the first row's first. A single row is kept verbatim. Returns the new count. */
static size_t merge_pheno_rows(pheno_t *ph, size_t n) {
  size_t out = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    pheno_t m = ph[i];
    if (j < n && strcmp(ph[j].key, m.key) == 0) {
      char *cls = join_items(NULL, m.cls), *pheno = join_items(NULL, m.pheno), *mech = join_mech(NULL, m.mech);
      for (; j < n && strcmp(ph[j].key, m.key) == 0; j++) {
        cls = join_items(cls, ph[j].cls);
        pheno = join_items(pheno, ph[j].pheno);
        mech = join_mech(mech, ph[j].mech);
        free(ph[j].key); free(ph[j].cls); free(ph[j].pheno); free(ph[j].mech);
      }
      free(m.cls); free(m.pheno); free(m.mech);
      m.cls = cls; m.pheno = pheno; m.mech = mech;
    }
    ph[out++] = m;
    i = j;
  }
  return out;
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/** Splits a TSV line in place into at most max fields; returns the count. */
static int split_tsv(char *line, char **f, int max) {
  int n = 0;
  f[n++] = line;
  for (char *p = line; *p && n < max; p++)
    if (*p == '\t') { *p = 0; f[n++] = p + 1; }
  for (int i = 0; i < n; i++) trim_right(f[i]);
  return n;
}

/* A config name as a list of classes in phenotypes.txt's form: "MLS - Macrolide, Lincosamide and Streptogramin B"
 * names three classes, and an allele's classes are a ", "-separated list, so it becomes "Macrolide, Lincosamide,
 * Streptogramin B" (an abbreviation before " - " dropped, " and " a separator); "Fluoroquinolone" stays. */
static char *config_classes(const char *name) {
  const char *dash = strstr(name, " - ");
  if (dash && strchr(dash + 3, ',')) name = dash + 3;
  size_t n = strlen(name);
  char *out = malloc(n + 1), *o = out;
  if (!out) return xstrdup(name);
  for (const char *p = name; *p;) {
    if (strchr(name, ',') && strncmp(p, " and ", 5) == 0) { memcpy(o, ", ", 2); o += 2; p += 5; }
    else *o++ = *p++;
  }
  *o = 0;
  return out;
}

static void rf_record(builder_t *b, char *name, char *seq, uint32_t len, void *vctx) {
  rf_ctx_t *ctx = vctx;
  pheno_t key = {.key = name};
  pheno_t *ph = ctx->nph ? bsearch(&key, ctx->ph, ctx->nph, sizeof *ctx->ph, cmp_pheno) : NULL;
  /* Classes come from phenotypes.txt where the allele has rows there (all of them, merged at load), and from
   * the class file's config name only for an allele without any: one vocabulary per allele (phenotypes.txt says
   * Quinolone and Amphenicol where config says Fluoroquinolone and Phenicol). */
  int from_table = ph && ph->cls[0];
  const char *cls = from_table ? ph->cls : ctx->file_class;
  for (uint32_t i = 0; i < b->nt; i++) {
    tdraft_t *t = &b->t[i];
    if (t->kind == BG_KIND_RESFINDER && strcmp(t->name, name) == 0) {
      /* one allele listed in several class files: one target, several classes */
      if (t->len != len || memcmp(t->seq, seq, len) != 0) warn(b, "Allele %s appears twice with different sequences%s", name, "");
      if (!from_table) t->cls = join_unique(t->cls, ctx->file_class, ", ");
      free(name); free(seq);
      return;
    }
  }
  tdraft_t *t = add_target(b);
  if (!t) { free(name); free(seq); return; }
  t->name = name; t->seq = seq; t->len = len; t->kind = BG_KIND_RESFINDER;
  split_header(name, &t->gene, &t->acc);
  t->cls = xstrdup(cls);
  t->pheno = xstrdup(ph ? ph->pheno : "");
  t->mech = xstrdup(ph ? ph->mech : "");
  t->species = xstrdup("");
}

static bg_status_t load_resfinder(builder_t *b, const char *dir) {
  char path[4096], *text;
  size_t len;
  struct stat st;
  if (stat(dir, &st) != 0) {
    int e = errno;
    return bg_fail(b->err, b->err_len, e == ENOENT ? BG_ERR_BAD_DATABASE : bg_status_from_errno(e),
                   "Cannot read the ResFinder database: %s (%s)", strerror(e), dir);
  }
  if (!S_ISDIR(st.st_mode))
    return bg_fail(b->err, b->err_len, BG_ERR_BAD_DATABASE, "Cannot read the ResFinder database: not a folder (%s)", dir);
  /* version: a VERSION file (upstream's releases), else the date of the newest change in history.txt (Debian's) */
  if (!read_version_file(dir, b->rf_version, sizeof b->rf_version)) newest_history_date(dir, b->rf_version, sizeof b->rf_version);
  /* phenotypes.txt: allele -> class, phenotype */
  rf_ctx_t ctx = {0};
  snprintf(path, sizeof path, "%s/phenotypes.txt", dir);
  if (bg_slurp(path, &text, &len, NULL, 0) == BG_OK) {
    size_t cap = 4096;
    ctx.ph = malloc(cap * sizeof *ctx.ph);
    char *save = NULL;
    int first = 1;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      if (first) { first = 0; if (strncmp(line, "Gene_accession", 14) == 0 || line[0] == '#') continue; }
      char *f[8];
      int nf = split_tsv(line, f, 8);
      if (nf < 3 || !f[0][0]) continue;
      if (ctx.nph == cap) { cap *= 2; ctx.ph = realloc(ctx.ph, cap * sizeof *ctx.ph); }
      ctx.ph[ctx.nph] = (pheno_t){xstrdup(f[0]), xstrdup(f[1]), xstrdup(f[2]), xstrdup(nf > 4 ? f[4] : ""), ctx.nph};
      ctx.nph++;
    }
    free(text);
    /* an allele may have several rows (aac(6')-Ib-cr: one Aminoglycoside, Quinolone; one Quinolone): all count */
    qsort(ctx.ph, ctx.nph, sizeof *ctx.ph, cmp_pheno_row);
    ctx.nph = merge_pheno_rows(ctx.ph, ctx.nph);
  } else {
    warn(b, "No phenotypes.txt in %s%s: drug classes come from the file names", dir, "");
  }
  /* config: file prefix -> class name */
  char **cfg_key = NULL, **cfg_val = NULL;
  size_t ncfg = 0;
  snprintf(path, sizeof path, "%s/config", dir);
  char *cfg;
  if (bg_slurp(path, &cfg, &len, NULL, 0) == BG_OK) {
    char *save = NULL;
    for (char *line = strtok_r(cfg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      if (line[0] == '#') continue;
      char *f[4];
      if (split_tsv(line, f, 4) < 2) continue;
      cfg_key = realloc(cfg_key, (ncfg + 1) * sizeof *cfg_key);
      cfg_val = realloc(cfg_val, (ncfg + 1) * sizeof *cfg_val);
      cfg_key[ncfg] = xstrdup(f[0]); cfg_val[ncfg] = config_classes(f[1]); ncfg++;
    }
    free(cfg);
  }
  /* every *.fsa, in name order */
  DIR *d = opendir(dir);
  if (!d) {
    int e = errno;
    return bg_fail(b->err, b->err_len, bg_status_from_errno(e), "Cannot read the ResFinder database: %s (%s)", strerror(e), dir);
  }
  char **files = NULL;
  size_t nf = 0;
  for (struct dirent *de; (de = readdir(d));) {
    size_t n = strlen(de->d_name);
    if (n > 4 && (strcmp(de->d_name + n - 4, ".fsa") == 0)) {
      files = realloc(files, (nf + 1) * sizeof *files);
      files[nf++] = xstrdup(de->d_name);
    }
  }
  closedir(d);
  if (nf) qsort(files, nf, sizeof *files, cmp_str);
  bg_status_t st_out = BG_OK;
  for (size_t i = 0; i < nf && st_out == BG_OK; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    bg_status_t s = bg_slurp(path, &text, &len, b->err, b->err_len);
    if (s != BG_OK) { st_out = s == BG_ERR_CORRUPT_GZIP ? BG_ERR_BAD_DATABASE : s; break; }
    char stem[256];
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(files[i]) - 4), files[i]);
    const char *cls = stem;
    for (size_t k = 0; k < ncfg; k++) if (strcmp(cfg_key[k], stem) == 0) cls = cfg_val[k];
    ctx.file_class = cls;
    int n = parse_fasta(b, text, rf_record, &ctx);
    free(text);
    if (n < 0) st_out = bg_fail(b->err, b->err_len, BG_ERR_BAD_DATABASE, "Cannot read the ResFinder database: %s is not FASTA", path);
  }
  for (size_t i = 0; i < nf; i++) free(files[i]);
  free(files);
  for (size_t k = 0; k < ncfg; k++) { free(cfg_key[k]); free(cfg_val[k]); }
  free(cfg_key); free(cfg_val);
  for (size_t k = 0; k < ctx.nph; k++) { free(ctx.ph[k].key); free(ctx.ph[k].cls); free(ctx.ph[k].pheno); free(ctx.ph[k].mech); }
  free(ctx.ph);
  if (st_out == BG_OK && b->nt == 0)
    st_out = bg_fail(b->err, b->err_len, BG_ERR_BAD_DATABASE,
                     "Cannot read the ResFinder database: no alleles found in any *.fsa file (%s)", dir);
  return st_out;
}

/* ---- PointFinder -------------------------------------------------------------------------- */

/** Three-letter amino acid name (`SER`) to one letter; 0 when unknown. */
static char aa3(const char *s) {
  static const char *names[] = {"ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
                                "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"};
  static const char codes[] = "ARNDCQEGHILKMFPSTWYV";
  for (int i = 0; i < 20; i++) if (strncasecmp(s, names[i], 3) == 0) return codes[i];
  return 0;
}

/** One base (A, C, G or T). */
static int single_base(const char *s) { return s[0] && !s[1] && strchr("ACGTacgt", s[0]); }
/** A comma-separated list of base sequences ("GTT", "A,GT"). */
static int seq_list(const char *s) {
  if (!*s || *s == ',') return 0;
  for (const char *p = s; *p; p++) {
    if (*p == ',') { if (!p[1] || p[1] == ',') return 0; continue; }
    if (!strchr("ACGTacgt", *p)) return 0;
  }
  return 1;
}

/** A comma-separated list of single bases ("T", "A,G"). */
static int bases_list(const char *s) {
  if (!seq_list(s)) return 0;
  for (const char *p = s; *p; p++) if (*p != ',' && p[1] && p[1] != ',') return 0;
  return 1;
}

/** A comma-separated list of amino-acid sequences of one-letter codes ("SG", "L,P"), each short enough to be an
 * observation's key (BG_SITE_KEY_LEN - 1 residues). */
static int residue_list(const char *s) {
  if (!*s || *s == ',') return 0;
  size_t run = 0;
  for (const char *p = s; *p; p++) {
    if (*p == ',') { if (!p[1] || p[1] == ',') return 0; run = 0; continue; }
    if (!strchr("ACDEFGHIKLMNPQRSTVWY*", *p) || ++run >= BG_SITE_KEY_LEN) return 0;
  }
  return 1;
}

/* Whether gene names a and b (n bytes) are the same, '_' and '-' alike: M. tuberculosis's file
 * pncA-promoter-size-107bp.fsa has the header pncA_promoter_size_107bp_1_LR027516.1. */
static int same_gene_name(const char *a, const char *b, size_t n) {
  if (strlen(a) != n) return 0;
  for (size_t i = 0; i < n; i++) {
    char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
    if (x != y) return 0;
  }
  return 1;
}

/* Whether a species' genes.txt (text) lists gene g. */
static int lists_gene(const char *text, const char *g) {
  for (const char *line = text; *line;) {
    size_t n = strcspn(line, "\r\n");
    const char *l = line;
    size_t k = n;
    while (k && isspace((unsigned char)*l)) { l++; k--; }
    while (k && isspace((unsigned char)l[k - 1])) k--;
    if (k && same_gene_name(g, l, k)) return 1;
    line += n;
    while (*line == '\r' || *line == '\n') line++;
  }
  return 0;
}

/* A gene file's record. genes: the species' genes.txt. A file whose header names another gene of that list holds
 * that gene's sequence, not its own (M. tuberculosis ethA-promoter-size-74bp.fsa holds embA's, header
 * embA-promoter-size-115bp_1_LR027516.1): it is left out (other: the header), or reads of the other gene would be
 * read at this gene's catalogued sites, as wild type or as a change the catalogue does not list. */
typedef struct pf_ctx_t { const char *species, *gene, *genes; int rna; int found; char *other; } pf_ctx_t;

/* A gene file left out (see pf_ctx_t), and how many catalogue rows went with it. */
typedef struct wrong_gene_t { char *gene, *header; uint32_t rows; } wrong_gene_t;

/* Warns of each gene file left out, with its rows, and frees the list. */
static void warn_wrong_genes(builder_t *b, const char *species, wrong_gene_t *w, int n) {
  for (int i = 0; i < n; i++) {
    char msg[480];
    snprintf(msg, sizeof msg, "PointFinder gene file %.100s.fsa of %.60s holds another gene's sequence (its header: %.100s): "
             "the gene and its %u catalogue rows are skipped", w[i].gene, species, w[i].header, w[i].rows);
    warn(b, "%s%s", msg, "");
    free(w[i].gene);
    free(w[i].header);
  }
}

static void pf_record(builder_t *b, char *name, char *seq, uint32_t len, void *vctx) {
  pf_ctx_t *ctx = vctx;
  if (ctx->found) { free(name); free(seq); return; } /* one reference per gene file */
  ctx->found = 1;
  char *g, *acc;
  split_header(name, &g, &acc);
  if (!same_gene_name(g, ctx->gene, strlen(ctx->gene)) && lists_gene(ctx->genes, g)) {
    ctx->other = name;
    free(g); free(acc); free(seq);
    return;
  }
  free(g);
  tdraft_t *t = add_target(b);
  if (!t) { free(name); free(seq); free(acc); return; }
  t->name = name; t->seq = seq; t->len = len; t->kind = BG_KIND_POINTFINDER;
  t->gene = xstrdup(ctx->gene);
  t->acc = acc;
  t->cls = xstrdup(""); t->pheno = xstrdup(""); t->mech = xstrdup(""); t->species = xstrdup(ctx->species);
  t->is_rna = (uint32_t)ctx->rna;
  const char *ps = strstr(ctx->gene, "promoter-size-");
  t->promoter_len = ps ? atoi(ps + 14) : 0;
  if (t->promoter_len < 0 || (uint32_t)t->promoter_len > len) t->promoter_len = 0;
}

/** Reads `dir/name` or `dir/name.gz`. */
static bg_status_t slurp_maybe_gz(const char *dir, const char *name, char **text, size_t *len, char *err, size_t err_len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  bg_status_t s = bg_slurp(path, text, len, err, err_len);
  if (s != BG_ERR_FILE_NOT_FOUND) return s;
  snprintf(path, sizeof path, "%s/%s.gz", dir, name);
  return bg_slurp(path, text, len, err, err_len);
}

/* Whether the target holds `del` (case aside) from index idx on. */
static int holds_at(const tdraft_t *t, int64_t idx, const char *del, size_t n) {
  if (idx < 0 || idx + (int64_t)n > (int64_t)t->len) return 0;
  for (size_t k = 0; k < n; k++) if (t->seq[idx + k] != toupper((unsigned char)del[k])) return 0;
  return 1;
}

/* A deletion row's first deleted base: PointFinder numbers most deletions by their first base, a few by the
 * base before it (N. gonorrhoeae rpsE 78delGTT deletes bases 79-81); the sequence says which. */
static int32_t deletion_index(const tdraft_t *t, int32_t idx, const char *alts) {
  size_t n = strcspn(alts, ",");
  if (idx >= 0 && !holds_at(t, idx, alts, n) && holds_at(t, (int64_t)idx + 1, alts, n)) return idx + 1;
  return idx;
}

static int32_t site_index(const tdraft_t *t, uint32_t type, int32_t pos) {
  int64_t idx;
  if (type == BG_MUT_DEL) { /* the first deleted base; the base before it is the left flank */
    idx = pos < 0 ? (int64_t)t->promoter_len + pos : (int64_t)t->promoter_len + pos - 1;
    return (idx < 1 || idx >= t->len) ? -1 : (int32_t)idx;
  }
  if (type == BG_MUT_AA_INS) { /* inserted after codon pos: its last base, then a whole codon after it */
    idx = (int64_t)t->promoter_len + (int64_t)pos * 3 - 1;
    return (pos < 1 || idx + 4 > t->len) ? -1 : (int32_t)idx;
  }
  if (type == BG_MUT_AA) idx = (int64_t)t->promoter_len + (int64_t)(pos - 1) * 3;
  else idx = pos < 0 ? (int64_t)t->promoter_len + pos : (int64_t)t->promoter_len + pos - 1;
  int64_t need = type == BG_MUT_AA ? 3 : 1;
  return (idx < 0 || idx + need > t->len) ? -1 : (int32_t)idx;
}

static void add_site(builder_t *b, uint32_t target, uint32_t type, int32_t pos, char **f, int nf) {
  const char *ref = type == BG_MUT_AA ? f[5] : type == BG_MUT_NUC ? f[4] : "-";
  const char *alts = f[6];
  const char *cls = nf > 7 ? f[7] : "", *pheno = nf > 8 ? f[8] : "", *pmid = nf > 9 ? f[9] : "", *mech = nf > 10 ? f[10] : "";
  /* nine M. tuberculosis rows hold an empty PMID column and the PMID in the mechanism's (29358649) */
  if (mech[0] && strspn(mech, "0123456789, ") == strlen(mech)) {
    if (!pmid[0]) pmid = mech;
    mech = "";
  }
  for (uint32_t i = 0; i < b->ns; i++) {
    sdraft_t *s = &b->s[i];
    if (s->target == target && s->pos == pos && s->type == type) {
      /* repeated row: merge */
      char *copy = xstrdup(alts), *save = NULL;
      for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) s->alts = join_unique(s->alts, a, ",");
      free(copy);
      s->cls = join_unique(s->cls, cls, ", ");
      s->pheno = join_unique(s->pheno, pheno, ", ");
      s->pmid = join_unique(s->pmid, pmid, ",");
      s->mech = join_mech(s->mech, mech);
      return;
    }
  }
  if (b->ns == b->caps) {
    b->caps = b->caps ? b->caps * 2 : 256;
    b->s = realloc(b->s, b->caps * sizeof *b->s);
  }
  sdraft_t *s = &b->s[b->ns++];
  s->target = target; s->pos = pos; s->type = type;
  s->ref = xstrdup(ref); s->ref_codon = xstrdup(type == BG_MUT_AA ? f[4] : "");
  s->alts = NULL;
  char *copy = xstrdup(alts), *save = NULL;
  for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) s->alts = join_unique(s->alts, a, ",");
  free(copy);
  if (!s->alts) s->alts = xstrdup("");
  s->cls = xstrdup(cls); s->pheno = xstrdup(pheno); s->pmid = xstrdup(pmid); s->mech = xstrdup(mech);
}

static bg_status_t load_species(builder_t *b, const char *root, const char *species) {
  char dir[4096], *text;
  size_t len;
  snprintf(dir, sizeof dir, "%s/%s", root, species);
  bg_status_t s = slurp_maybe_gz(dir, "genes.txt", &text, &len, b->err, b->err_len);
  if (s != BG_OK)
    return bg_fail(b->err, b->err_len, BG_ERR_BAD_DATABASE,
                   "Cannot read the PointFinder database: species '%s' has no genes.txt (%s)", species, dir);
  char *rna = NULL;
  size_t rlen;
  if (slurp_maybe_gz(dir, "RNA_genes.txt", &rna, &rlen, NULL, 0) != BG_OK) rna = NULL;
  uint32_t first = b->nt;
  char *save = NULL, *genes = xstrdup(text);
  wrong_gene_t wrong[8]; /* gene files holding another gene (see pf_ctx_t) */
  int n_wrong = 0;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    trim_right(line);
    while (*line && isspace((unsigned char)*line)) line++;
    if (!*line || *line == '#') continue;
    char fname[1024], *fa;
    snprintf(fname, sizeof fname, "%s.fsa", line);
    size_t flen;
    if (slurp_maybe_gz(dir, fname, &fa, &flen, NULL, 0) != BG_OK) {
      warn(b, "PointFinder gene file %s missing for %s", fname, species);
      continue;
    }
    int is_rna = 0;
    if (rna) {
      size_t gl = strlen(line);
      for (const char *p = rna; (p = strstr(p, line)); p += gl)
        if ((p == rna || p[-1] == '\n') && (p[gl] == '\n' || p[gl] == '\r' || p[gl] == 0 || isspace((unsigned char)p[gl]))) { is_rna = 1; break; }
    }
    pf_ctx_t ctx = {species, line, genes, is_rna, 0, NULL};
    if (parse_fasta(b, fa, pf_record, &ctx) <= 0) warn(b, "PointFinder gene file %s of %s holds no sequence", fname, species);
    free(fa);
    if (ctx.other && n_wrong < (int)(sizeof wrong / sizeof wrong[0])) {
      wrong[n_wrong].gene = xstrdup(line);
      wrong[n_wrong].header = ctx.other;
      wrong[n_wrong++].rows = 0;
    } else free(ctx.other);
  }
  free(genes);
  free(text);
  free(rna);
  if (b->nt == first) {
    warn_wrong_genes(b, species, wrong, n_wrong);
    return bg_fail(b->err, b->err_len, BG_ERR_BAD_DATABASE,
                   "Cannot read the PointFinder database: no gene sequences for species '%s' (%s)", species, dir);
  }
  /* mutation table */
  if (slurp_maybe_gz(dir, "phenotypes.txt", &text, &len, NULL, 0) != BG_OK &&
      slurp_maybe_gz(dir, "resistens-overview.txt", &text, &len, NULL, 0) != BG_OK) {
    warn_wrong_genes(b, species, wrong, n_wrong);
    warn(b, "No phenotypes.txt for %s%s: genes kept, no mutations catalogued", species, "");
    return BG_OK;
  }
  save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#' || line[0] == 0) continue;
    char *f[16];
    int nf = split_tsv(line, f, 16);
    if (nf < 7 || strcmp(f[1], "TypeGene") == 0) continue;
    /* find the gene: by full header, else by the gene-name part */
    uint32_t target = UINT32_MAX;
    for (uint32_t i = first; i < b->nt && target == UINT32_MAX; i++) if (strcmp(b->t[i].name, f[0]) == 0) target = i;
    for (uint32_t i = first; i < b->nt && target == UINT32_MAX; i++) {
      size_t gl = strlen(b->t[i].gene);
      if (strncmp(f[0], b->t[i].gene, gl) == 0 && (f[0][gl] == '_' || f[0][gl] == 0)) target = i;
    }
    if (target == UINT32_MAX) {
      int k = 0;
      while (k < n_wrong && !(strncmp(f[0], wrong[k].gene, strlen(wrong[k].gene)) == 0 &&
                              (f[0][strlen(wrong[k].gene)] == '_' || f[0][strlen(wrong[k].gene)] == 0))) k++;
      if (k < n_wrong) wrong[k].rows++; /* a gene file left out: one warning for all its rows, below */
      else warn(b, "Mutation row for unknown gene %s in %s", f[0], species);
      continue;
    }
    char *endp;
    long pos = strtol(f[3], &endp, 10);
    if (endp == f[3]) { warn(b, "Mutation row with no position for %s in %s", f[0], species); continue; }
    uint32_t type;
    /* Indels: Ref_nuc '-' and Ref_codon 'ins' (the inserted bases in Res_codon) or 'del' (the deleted bases). */
    int is_del = strcmp(f[5], "del") == 0 || strstr(f[6], "del") != NULL;
    int is_ins = !is_del && (strcmp(f[5], "ins") == 0 || strcmp(f[4], "-") == 0);
    int is_nuc = strcmp(f[1], "NUC") == 0;
    /* Rows typed AA in a promoter gene that are single-base promoter changes (N. gonorrhoeae macAB -48 G>T,
     * mtrC -120 C>T: a negative position, a base for a codon) are nucleotide rows. */
    /* (an AA-typed insertion stays skipped: S. aureus pbp4 -290 inserts 36 bases, wider than the aligner's band) */
    if (!is_nuc && !is_ins && !is_del && strcmp(f[1], "AA") == 0 && b->t[target].promoter_len > 0 &&
        (pos < 0 || (single_base(f[4]) && bases_list(f[6]))))
      is_nuc = 1;
    if (is_del && !(is_nuc && seq_list(f[6]))) {
      /* amino-acid deletions are not called: no site, so none is reported wild type while it goes unseen */
      char row[300];
      snprintf(row, sizeof row, "%s %ld%s%s (%s)", b->t[target].gene, pos, is_nuc ? "del" : " ", is_nuc ? f[6] : f[2][0] ? f[2] : "del", f[0]);
      warn(b, is_nuc ? "Unsupported nucleotide deletion row %s in %s skipped" : "Unsupported amino-acid deletion row %s in %s skipped", row, species);
      continue;
    }
    if (is_del) type = BG_MUT_DEL; /* Res_codon: the deleted bases, from Codon_pos on */
    else if (is_ins && is_nuc) type = BG_MUT_INS;
    else if (is_ins && pos > 0 && residue_list(f[6])) type = BG_MUT_AA_INS; /* Res_codon: the inserted amino acids */
    else if (is_ins) {
      /* S. aureus pbp4 -290: typed AA, a promoter position and 36 inserted bases, wider than the aligner's band */
      char row[300];
      snprintf(row, sizeof row, "%s %ld ins%.40s (%s)", b->t[target].gene, pos, f[6], f[0]);
      warn(b, "Unsupported amino-acid-typed insertion row %s in %s skipped", row, species);
      continue;
    } else if (is_nuc) type = BG_MUT_NUC;
    else if (strcmp(f[1], "AA") == 0) type = BG_MUT_AA;
    else { warn(b, "Unknown mutation type row for %s in %s", f[0], species); continue; }
    add_site(b, target, type, (int32_t)pos, f, nf);
    /* reference check against the gene sequence */
    const tdraft_t *t = &b->t[target];
    int32_t idx = site_index(t, type, (int32_t)pos);
    char where[256];
    snprintf(where, sizeof where, "%s %s:%ld", species, t->gene, pos);
    if (idx < 0) warn(b, "Catalogued position %s lies outside the reference%s", where, "");
    else if (type == BG_MUT_AA) {
      char aa = bg_translate(t->seq + idx);
      char want = f[5][0] ? f[5][0] : aa3(f[2]);
      int codon_ok = strlen(f[4]) == 3;
      for (int k = 0; k < 3 && codon_ok; k++) codon_ok = f[4][k] == 'N' || f[4][k] == t->seq[idx + k];
      if (aa != want || !codon_ok) warn(b, "Reference codon disagrees with the catalogue at %s (%s)", where, f[4]);
    } else if (type == BG_MUT_NUC && f[4][0] && t->seq[idx] != toupper((unsigned char)f[4][0])) {
      warn(b, "Reference base disagrees with the catalogue at %s (%s)", where, f[4]);
    } else if (type == BG_MUT_DEL) {
      char *copy = xstrdup(f[6]), *save = NULL;
      for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save))
        if (!holds_at(t, idx, a, strlen(a)) && !holds_at(t, (int64_t)idx + 1, a, strlen(a)))
          warn(b, "Deleted bases disagree with the sequence at %s (del%s)", where, a);
      free(copy);
    }
  }
  free(text);
  warn_wrong_genes(b, species, wrong, n_wrong);
  return BG_OK;
}

static bg_status_t load_pointfinder(builder_t *b, const char *root, const char *species_csv) {
  struct stat st;
  if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
    return bg_fail(b->err, b->err_len, BG_ERR_BAD_DATABASE, "Cannot read the PointFinder database: not a folder (%s)", root);
  read_version_file(root, b->pf_version, sizeof b->pf_version);
  char **names = NULL;
  size_t n = 0;
  if (species_csv && *species_csv) {
    char *copy = xstrdup(species_csv), *save = NULL;
    for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
      while (isspace((unsigned char)*s)) s++;
      trim_right(s);
      if (!*s) continue;
      names = realloc(names, (n + 1) * sizeof *names);
      names[n++] = xstrdup(s);
    }
    free(copy);
  } else {
    DIR *d = opendir(root);
    if (!d) return bg_fail(b->err, b->err_len, BG_ERR_BAD_DATABASE, "Cannot read the PointFinder database: %s (%s)", strerror(errno), root);
    for (struct dirent *de; (de = readdir(d));) {
      if (de->d_name[0] == '.') continue;
      char p[4096];
      snprintf(p, sizeof p, "%s/%s/genes.txt", root, de->d_name);
      if (stat(p, &st) == 0) {
        names = realloc(names, (n + 1) * sizeof *names);
        names[n++] = xstrdup(de->d_name);
      }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
  }
  bg_status_t s = BG_OK;
  if (n == 0) s = bg_fail(b->err, b->err_len, BG_ERR_BAD_DATABASE, "Cannot read the PointFinder database: no species folders with genes.txt (%s)", root);
  for (size_t i = 0; i < n && s == BG_OK; i++) {
    s = load_species(b, root, names[i]);
    b->n_species++;
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return s;
}

/* ---- finalise into the flat layout -------------------------------------------------------- */

static uint32_t put_str(bg_buf_t *s, const char *v) {
  uint32_t off = (uint32_t)s->n;
  bg_buf_put(s, v ? v : "", strlen(v ? v : "") + 1);
  return off;
}

static int cmp_site(const void *a, const void *b) {
  const sdraft_t *x = a, *y = b;
  if (x->target != y->target) return x->target < y->target ? -1 : 1;
  if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
  return (int)x->type - (int)y->type;
}

static void builder_free(builder_t *b) {
  for (uint32_t i = 0; i < b->nt; i++) {
    tdraft_t *t = &b->t[i];
    free(t->name); free(t->gene); free(t->acc); free(t->cls); free(t->pheno); free(t->species); free(t->mech); free(t->seq);
  }
  for (uint32_t i = 0; i < b->ns; i++) {
    sdraft_t *s = &b->s[i];
    free(s->ref); free(s->ref_codon); free(s->alts); free(s->cls); free(s->pheno); free(s->pmid); free(s->mech);
  }
  free(b->t); free(b->s);
  bg_buf_free(&b->warnings);
}

/* Alternative k (0-based) of a comma-separated list: its start and length in *n; NULL when there is none. */
static const char *alt_at(const char *alts, uint32_t k, size_t *n) {
  for (; k && alts; k--) { alts = strchr(alts, ','); if (alts) alts++; }
  if (!alts) return NULL;
  *n = strcspn(alts, ",");
  return alts;
}

int bg_site_alt(const bg_db_t *db, const bg_site_t *s, uint32_t k, char *key) {
  size_t n = 0;
  const char *alt = alt_at(bg_str(db, s->alts), k, &n);
  if (!alt || n >= BG_SITE_KEY_LEN) return 0;
  if (key) { memcpy(key, alt, n); key[n] = 0; }
  return 1;
}

/* A catalogued indel longer than the aligner's band is never written by a gapped alignment, and the reads that
 * carry it align nowhere. Each such alternative (plain bases, that fit an observation's key; a deletion of bases
 * the gene holds there) gets a variant target: its gene with the indel written in, to which those reads align
 * ungapped (mutations.c, variant_evidence). Whether alternative `alt` (n bases) of site s of gene t needs one. */
static int needs_variant(const tdraft_t *t, const sdraft_t *d, int32_t tidx, const char *alt, size_t n) {
  if ((d->type != BG_MUT_DEL && d->type != BG_MUT_INS) || tidx < 0 || n <= BG_ALIGN_BAND || n >= BG_SITE_KEY_LEN) return 0;
  for (size_t k = 0; k < n; k++) if (alt[k] != 'A' && alt[k] != 'C' && alt[k] != 'G' && alt[k] != 'T') return 0;
  return d->type == BG_MUT_DEL ? holds_at(t, tidx, alt, n) : (uint32_t)tidx < t->len;
}

/* Writes the variant target of site i's alternative k (see needs_variant) into v and its bases into seqs. */
static void put_variant(bg_buf_t *strings, bg_buf_t *seqs, const builder_t *b, const bg_site_t *sites, uint32_t i, uint32_t k,
                        bg_target_t *v) {
  const sdraft_t *d = &b->s[i];
  const tdraft_t *g = &b->t[d->target];
  size_t n = 0;
  const char *alt = alt_at(d->alts, k, &n);
  uint32_t at = (uint32_t)sites[i].tidx;
  char name[1200];
  snprintf(name, sizeof name, "%s~%d%s%.*s", g->name, d->pos, d->type == BG_MUT_DEL ? "del" : "ins", (int)n, alt);
  v->name = put_str(strings, name); v->gene = put_str(strings, g->gene); v->accession = put_str(strings, g->acc);
  v->drug_class = put_str(strings, g->cls); v->phenotype = put_str(strings, g->pheno); v->species = put_str(strings, g->species);
  v->mechanism = put_str(strings, g->mech);
  v->seq = seqs->n; v->kind = BG_KIND_POINTFINDER; v->promoter_len = g->promoter_len; v->is_rna = g->is_rna;
  v->variant_site = i + 1; v->variant_alt = k;
  if (d->type == BG_MUT_DEL) { /* the n bases from `at` left out */
    bg_buf_put(seqs, g->seq, at);
    bg_buf_put(seqs, g->seq + at + n, g->len - at - n);
    v->len = g->len - (uint32_t)n;
  } else { /* inserted after base `at` */
    bg_buf_put(seqs, g->seq, at + 1);
    bg_buf_put(seqs, alt, n);
    bg_buf_put(seqs, g->seq + at + 1, g->len - at - 1);
    v->len = g->len + (uint32_t)n;
  }
  bg_buf_put(seqs, "", 1);
}

static void *own(bg_db_t *db, void *p) {
  if (p && db->n_owned < (int)(sizeof db->owned / sizeof db->owned[0])) db->owned[db->n_owned++] = p;
  return p;
}

BG_API bg_status_t bg_db_build(bg_db_t *db, const char *resfinder_dir, const char *pointfinder_dir, const char *species_csv) {
  if (!db) return BG_ERR_INVALID_ARGUMENT;
  db->err[0] = 0;
  if (db->n_targets) return bg_fail(db->err, sizeof db->err, BG_ERR_INVALID_ARGUMENT, "The database handle is not empty");
  if (!resfinder_dir || !*resfinder_dir)
    return bg_fail(db->err, sizeof db->err, BG_ERR_INVALID_ARGUMENT, "A ResFinder folder is required");
  double t0 = bg_now();
  builder_t b = {0};
  b.err = db->err; b.err_len = sizeof db->err;
  bg_status_t s = load_resfinder(&b, resfinder_dir);
  uint32_t n_rf = b.nt;
  if (s == BG_OK && pointfinder_dir && *pointfinder_dir) s = load_pointfinder(&b, pointfinder_dir, species_csv);
  if (s != BG_OK) { builder_free(&b); return s; }
  if (b.ns > 1) qsort(b.s, b.ns, sizeof *b.s, cmp_site); /* b.s is NULL without sites */
  /* flatten */
  bg_buf_t strings = {0}, seqs = {0};
  bg_target_t *targets = calloc(b.nt, sizeof *targets);
  bg_site_t *sites = calloc(b.ns ? b.ns : 1, sizeof *sites);
  if (!targets || !sites) { free(targets); free(sites); builder_free(&b); return bg_fail(db->err, sizeof db->err, BG_ERR_HOST_OOM, "Out of memory building the database"); }
  put_str(&strings, "");
  {
    char meta[256];
    snprintf(meta, sizeof meta, "%cresfinder_version=%s%cpointfinder_version=%s", META_MARK, b.rf_version, META_SEP, b.pf_version);
    put_str(&strings, meta);
  }
  for (uint32_t i = 0; i < b.nt; i++) {
    tdraft_t *d = &b.t[i];
    bg_target_t *t = &targets[i];
    t->name = put_str(&strings, d->name); t->gene = put_str(&strings, d->gene); t->accession = put_str(&strings, d->acc);
    t->drug_class = put_str(&strings, d->cls); t->phenotype = put_str(&strings, d->pheno); t->species = put_str(&strings, d->species);
    t->mechanism = put_str(&strings, d->mech);
    t->seq = seqs.n; t->len = d->len; t->kind = d->kind; t->promoter_len = d->promoter_len; t->is_rna = d->is_rna;
    bg_buf_put(&seqs, d->seq, d->len);
    bg_buf_put(&seqs, "", 1);
  }
  for (uint32_t i = 0; i < b.ns; i++) {
    sdraft_t *d = &b.s[i];
    bg_site_t *s2 = &sites[i];
    s2->target = d->target; s2->pos = d->pos; s2->type = d->type;
    s2->ref = put_str(&strings, d->ref); s2->ref_codon = put_str(&strings, d->ref_codon); s2->alts = put_str(&strings, d->alts);
    s2->drug_class = put_str(&strings, d->cls); s2->phenotype = put_str(&strings, d->pheno); s2->pmid = put_str(&strings, d->pmid);
    s2->mechanism = put_str(&strings, d->mech);
    s2->tidx = site_index(&b.t[d->target], d->type, d->pos);
    if (d->type == BG_MUT_DEL) s2->tidx = deletion_index(&b.t[d->target], s2->tidx, d->alts);
    bg_target_t *t = &targets[d->target];
    if (t->n_sites == 0) t->first_site = i;
    t->n_sites++;
  }
  /* long indels' variant targets, after the genes */
  uint32_t nv = 0;
  for (int pass = 0; pass < 2; pass++) {
    uint32_t v = 0;
    for (uint32_t i = 0; i < b.ns; i++) {
      size_t n = 0;
      const char *alt;
      for (uint32_t k = 0; (alt = alt_at(b.s[i].alts, k, &n)); k++) {
        if (!needs_variant(&b.t[b.s[i].target], &b.s[i], sites[i].tidx, alt, n)) continue;
        if (pass) put_variant(&strings, &seqs, &b, sites, i, k, &targets[b.nt + v]);
        v++;
      }
    }
    if (pass || !v) break;
    nv = v;
    bg_target_t *grown = realloc(targets, (b.nt + (size_t)nv) * sizeof *targets);
    if (!grown) { strings.oom = 1; break; }
    targets = grown;
    memset(targets + b.nt, 0, nv * sizeof *targets);
  }
  if (strings.oom || seqs.oom) {
    bg_buf_free(&strings); bg_buf_free(&seqs); free(targets); free(sites); builder_free(&b);
    return bg_fail(db->err, sizeof db->err, BG_ERR_HOST_OOM, "Out of memory building the database");
  }
  db->targets = own(db, targets); db->n_targets = b.nt + nv;
  db->sites = own(db, sites); db->n_sites = b.ns;
  db->strings = own(db, strings.p); db->strings_len = strings.n;
  db->seqs = own(db, seqs.p); db->seqs_len = seqs.n;
  db->n_resfinder = n_rf; db->n_pointfinder = b.nt - n_rf; db->n_species = b.n_species; db->n_warnings = b.n_warnings;
  bg_buf_t w = {0};
  bg_buf_puts(&w, "[");
  if (b.warnings.p) bg_buf_puts(&w, b.warnings.p);
  bg_buf_puts(&w, "]");
  db->warnings_json = w.p;
  builder_free(&b);
  s = bg_index_build(db);
  db->build_seconds = bg_now() - t0;
  return s;
}

BG_API const char *bg_db_info_json(bg_db_t *db) {
  if (!db) return NULL;
  bg_buf_t b = {0};
  uint32_t n_genes_pf = 0;
  uint32_t n_variants = 0;
  for (uint32_t i = 0; i < db->n_targets; i++) {
    n_genes_pf += db->targets[i].kind == BG_KIND_POINTFINDER && !db->targets[i].variant_site;
    n_variants += db->targets[i].variant_site != 0;
  }
  char rfv[128], pfv[128];
  meta_value(db, "resfinder_version", rfv, sizeof rfv);
  meta_value(db, "pointfinder_version", pfv, sizeof pfv);
  bg_buf_printf(&b, "{\"format_version\":%u,\"resfinder_version\":", BG_INDEX_VERSION);
  bg_buf_json_str(&b, rfv);
  bg_buf_puts(&b, ",\"pointfinder_version\":");
  bg_buf_json_str(&b, pfv);
  bg_buf_printf(&b, ",\"resfinder_alleles\":%u,\"pointfinder_genes\":%u,\"pointfinder_species\":%u,"
                "\"mutation_sites\":%u,\"indel_variants\":%u,\"kmer_occurrences\":%llu,\"k\":%d,\"species\":[",
                db->n_resfinder, n_genes_pf, db->n_species, db->n_sites, n_variants, (unsigned long long)db->n_occs, BG_K);
  const char *last = NULL;
  int first = 1;
  for (uint32_t i = 0; i < db->n_targets; i++) {
    const bg_target_t *t = &db->targets[i];
    if (t->kind != BG_KIND_POINTFINDER || t->variant_site) continue;
    const char *sp = bg_str(db, t->species);
    if (last && strcmp(last, sp) == 0) continue;
    last = sp;
    if (!first) bg_buf_puts(&b, ",");
    first = 0;
    bg_buf_json_str(&b, sp);
  }
  bg_buf_puts(&b, "],\"warnings\":");
  bg_buf_puts(&b, db->warnings_json ? db->warnings_json : "[]");
  bg_buf_puts(&b, ",\"build_seconds\":");
  bg_buf_json_num(&b, db->build_seconds);
  bg_buf_puts(&b, ",\"load_seconds\":");
  bg_buf_json_num(&b, db->load_seconds);
  bg_buf_puts(&b, "}");
  free(db->info);
  db->info = b.oom ? NULL : b.p;
  return db->info ? db->info : "{}";
}
