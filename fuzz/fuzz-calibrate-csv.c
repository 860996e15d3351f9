/* joules calibrate --from FILE (cli/calibrate.c calib_parse_csv), then the fit of what it read
 * (common/curve-fit.c curve_fit): a file from anywhere. Invariants: an accepted file gives samples
 * within range; a fit either fails with a sentence or gives a valid monotone curve of at most the
 * points asked for, which gives back the samples' mean power. */

#include "fuzz/fuzz.h"

#include <errno.h>
#include <math.h>

#include "cli/calibrate.h"
#include "common/curve-fit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 65536)
                return 0;
        char *s = fuzz_cstr(data, size);
        CurveSample *v = NULL;
        size_t n = 0;
        char err[512] = "";
        int r = calib_parse_csv(s, &v, &n, err, sizeof(err));
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r < 0) {
                FUZZ_CHECK(err[0] != '\0');
                free(s);
                return 0;
        }
        FUZZ_CHECK(n > 0);
        double sw = 0, swy = 0;
        for (size_t i = 0; i < n; i++) {
                FUZZ_CHECK(v[i].util_pct >= 0 && v[i].util_pct <= 100);
                FUZZ_CHECK(v[i].watts >= 0 && isfinite(v[i].watts));
                FUZZ_CHECK(v[i].weight == 1);
                sw += v[i].weight;
                swy += v[i].weight * v[i].watts;
        }
        unsigned points = 2 + (unsigned)(size % 5);
        PowerCurve c;
        err[0] = '\0';
        r = curve_fit(v, n, points, &c, err, sizeof(err));
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r == 0) {
                FUZZ_CHECK(c.n >= POWER_CURVE_MIN && c.n <= points);
                FUZZ_CHECK(power_curve_check(&c, err, sizeof(err)) == 0);
                FUZZ_CHECK(curve_is_monotone(&c));
                CurveFitError e;
                FUZZ_CHECK(curve_fit_error(&c, v, n, &e) == 0);
                /* least squares: the mean error is 0 up to the rounding of the printed watts
                 * (and the clamping of a fitted value below 0 W, never below the samples) */
                double mean = swy / sw;
                FUZZ_CHECK(fabs(e.bias_w) <= 1e-3 + 1e-9 * mean || e.bias_w > 0);
        } else {
                FUZZ_CHECK(err[0] != '\0');
        }
        free(v);
        free(s);
        return 0;
}
