/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Aligned tables: cells kept row-major, widths measured at print time. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "table.h"

typedef struct Cell {
        char *text;
        const char *color;
} Cell;

struct Table {
        size_t n_columns;
        size_t n_cells;         /* including the header row */
        Cell *cells;
};

static int table_push(Table *t, const char *text, const char *color) {
        Cell *n = reallocarray(t->cells, t->n_cells + 1, sizeof *n);

        if (!n)
                return -ENOMEM;
        t->cells = n;
        n[t->n_cells].text = strdup(strdash(text));
        if (!n[t->n_cells].text)
                return -ENOMEM;
        n[t->n_cells++].color = color;
        return 0;
}

Table *table_new(const char *header, ...) {
        _cleanup_(table_freep) Table *t = calloc(1, sizeof *t);
        va_list ap;
        int r = 0;

        if (!t)
                return NULL;
        va_start(ap, header);
        for (const char *h = header; h && r >= 0; h = va_arg(ap, const char *)) {
                r = table_push(t, h, ANSI_BOLD);
                t->n_columns++;
        }
        va_end(ap);
        return r < 0 || t->n_columns == 0 ? NULL : TAKE_PTR(t);
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i].text);
        free(t->cells);
        return mfree(t);
}

int table_add_cell(Table *t, const char *text, const char *color) {
        return table_push(t, text, color);
}

int table_add_cellf(Table *t, const char *fmt, ...) {
        _cleanup_(freep) char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return table_push(t, s, NULL);
}

size_t table_rows(const Table *t) {
        /* ceil(data cells / columns); the header row is always complete. */
        return (t->n_cells - 1) / t->n_columns;
}

/* Characters, not bytes: domain names may be UTF-8. Continuation bytes do not count. */
static size_t text_width(const char *s) {
        size_t w = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xC0) != 0x80)
                        w++;
        return w;
}

static bool legend = true;

void table_set_legend(bool b) {
        legend = b;
}

int table_print(const Table *t, FILE *f) {
        _cleanup_(freep) size_t *width = calloc(t->n_columns, sizeof *width);
        /* Without the legend, the header row is neither printed nor counted in the widths. */
        size_t first = legend ? 0 : t->n_columns;

        if (!width)
                return -ENOMEM;
        for (size_t i = first; i < t->n_cells; i++) {
                size_t w = text_width(t->cells[i].text);

                if (w > width[i % t->n_columns])
                        width[i % t->n_columns] = w;
        }
        for (size_t i = first; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                const Cell *c = &t->cells[i];
                bool last = col == t->n_columns - 1 || i == t->n_cells - 1;

                fprintf(f, "%s%s%s", ansi(c->color), c->text, c->color ? ansi_normal() : "");
                if (last)
                        fputc('\n', f);
                else
                        fprintf(f, "%*s", (int) (width[col] - text_width(c->text) + 1), "");
        }
        return 0;
}
