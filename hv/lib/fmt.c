#include "hv/lib/fmt.h"

struct spec {
	bool left, zero, plus, space;
	int width, prec; /* prec < 0: none */
	int len;         /* -2 hh, -1 h, 0 int, 1 long, 2 long long / size_t */
};

struct out {
	fmt_put_fn put;
	void *ctx;
	int n;
};

static void emit(struct out *o, char c)
{
	o->put(c, o->ctx);
	o->n++;
}

static void pad(struct out *o, char c, int count)
{
	while (count-- > 0)
		emit(o, c);
}

static void emit_str(struct out *o, const struct spec *s, const char *str)
{
	int len = 0;

	if (!str)
		str = "(null)";
	while (str[len] && (s->prec < 0 || len < s->prec))
		len++;
	if (!s->left)
		pad(o, ' ', s->width - len);
	for (int i = 0; i < len; i++)
		emit(o, str[i]);
	if (s->left)
		pad(o, ' ', s->width - len);
}

static void emit_num(struct out *o, const struct spec *s, uint64_t v, bool neg, unsigned base,
		     bool upper, const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int nd = 0, plen = 0, zeros, total;
	char sign = neg ? '-' : s->plus ? '+' : s->space ? ' ' : 0;

	do {
		tmp[nd++] = digits[v % base];
		v /= base;
	} while (v);
	if (s->prec == 0 && nd == 1 && tmp[0] == '0')
		nd = 0;
	while (prefix && prefix[plen])
		plen++;
	zeros = s->prec > nd ? s->prec - nd : 0;
	total = nd + zeros + plen + (sign ? 1 : 0);
	if (s->zero && !s->left && s->prec < 0 && s->width > total) {
		zeros += s->width - total;
		total = s->width;
	}
	if (!s->left)
		pad(o, ' ', s->width - total);
	if (sign)
		emit(o, sign);
	for (int i = 0; i < plen; i++)
		emit(o, prefix[i]);
	pad(o, '0', zeros);
	while (nd)
		emit(o, tmp[--nd]);
	if (s->left)
		pad(o, ' ', s->width - total);
}

static const char *parse_spec(const char *f, struct spec *s, va_list *ap)
{
	*s = (struct spec){ .prec = -1 };
	for (;; f++) {
		if (*f == '-')
			s->left = true;
		else if (*f == '0')
			s->zero = true;
		else if (*f == '+')
			s->plus = true;
		else if (*f == ' ')
			s->space = true;
		else
			break;
	}
	if (*f == '*') {
		s->width = va_arg(*ap, int);
		if (s->width < 0) {
			s->left = true;
			s->width = -s->width;
		}
		f++;
	}
	while (*f >= '0' && *f <= '9')
		s->width = s->width * 10 + (*f++ - '0');
	if (*f == '.') {
		f++;
		s->prec = 0;
		if (*f == '*') {
			s->prec = va_arg(*ap, int);
			f++;
		}
		while (*f >= '0' && *f <= '9')
			s->prec = s->prec * 10 + (*f++ - '0');
	}
	for (;; f++) {
		if (*f == 'h')
			s->len--;
		else if (*f == 'l')
			s->len++;
		else if (*f == 'z')
			s->len = 2;
		else
			break;
	}
	return f;
}

static int64_t arg_signed(const struct spec *s, va_list *ap)
{
	if (s->len >= 2)
		return va_arg(*ap, long long);
	if (s->len == 1)
		return va_arg(*ap, long);
	int v = va_arg(*ap, int);
	return s->len == -2 ? (signed char)v : s->len == -1 ? (short)v : v;
}

static uint64_t arg_unsigned(const struct spec *s, va_list *ap)
{
	if (s->len >= 2)
		return va_arg(*ap, unsigned long long);
	if (s->len == 1)
		return va_arg(*ap, unsigned long);
	unsigned v = va_arg(*ap, unsigned);
	return s->len == -2 ? (unsigned char)v : s->len == -1 ? (unsigned short)v : v;
}

int fmt_vformat(fmt_put_fn put, void *ctx, const char *fmt, va_list ap_in)
{
	struct out o = { put, ctx, 0 };
	struct spec s;
	va_list ap;

	va_copy(ap, ap_in);
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			emit(&o, *f);
			continue;
		}
		f = parse_spec(f + 1, &s, &ap);
		switch (*f) {
		case 'd':
		case 'i': {
			int64_t v = arg_signed(&s, &ap);
			emit_num(&o, &s, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, false, 0);
			break;
		}
		case 'u':
			emit_num(&o, &s, arg_unsigned(&s, &ap), false, 10, false, 0);
			break;
		case 'x':
		case 'X':
			emit_num(&o, &s, arg_unsigned(&s, &ap), false, 16, *f == 'X', 0);
			break;
		case 'o':
			emit_num(&o, &s, arg_unsigned(&s, &ap), false, 8, false, 0);
			break;
		case 'p':
			s.len = 2;
			emit_num(&o, &s, (uintptr_t)va_arg(ap, void *), false, 16, false, "0x");
			break;
		case 's':
			emit_str(&o, &s, va_arg(ap, const char *));
			break;
		case 'c': {
			char c[2] = { (char)va_arg(ap, int), 0 };
			s.prec = 1;
			if (!c[0]) { /* a NUL character still counts as one */
				emit(&o, 0);
				break;
			}
			emit_str(&o, &s, c);
			break;
		}
		case '%':
			emit(&o, '%');
			break;
		case 0:
			f--; /* lone '%' at the end: stop */
			break;
		default: /* unknown conversion: print it as written */
			emit(&o, '%');
			emit(&o, *f);
			break;
		}
	}
	va_end(ap);
	return o.n;
}

struct sbuf {
	char *buf;
	size_t size, pos;
};

static void sbuf_put(char c, void *ctx)
{
	struct sbuf *b = ctx;

	if (b->pos + 1 < b->size)
		b->buf[b->pos] = c;
	b->pos++;
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sbuf b = { buf, size, 0 };
	int n = fmt_vformat(sbuf_put, &b, fmt, ap);

	if (size)
		buf[b.pos < size ? b.pos : size - 1] = 0;
	return n;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
