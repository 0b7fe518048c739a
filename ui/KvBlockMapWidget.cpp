// KvBlockMapWidget.cpp: see KvBlockMapWidget.h. Cells of 4 px and more are drawn 1:1; denser pools
// get one image pixel per block in a grid shaped like the widget, scaled (nearest) to fill it.
#include "KvBlockMapWidget.h"

#include "PlotStyle.h"

#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include <cmath>

using rl::block_manager;
using State = block_manager::block_state;

namespace {
constexpr uint64_t kOwnerBits = rl::kOwnerVirtualBit | rl::kOwnerApiBit | rl::kOwnerAnonymousBit;

QColor ownerColor(uint64_t owner) {
    switch (rl::owner_kind_of(owner)) {
    case rl::owner_kind::person: return PlotStyle::person();
    case rl::owner_kind::virtual_user: return PlotStyle::virtualUser();
    case rl::owner_kind::api: return PlotStyle::api();
    default: return PlotStyle::anonymous();
    }
}
} // namespace

KvBlockMapWidget::KvBlockMapWidget(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setMinimumSize(160, 80);
    setAttribute(Qt::WA_OpaquePaintEvent);
}

QRgb KvBlockMapWidget::cellColor(const block_manager::block_view& b) const {
    const QColor bg = palette().color(QPalette::Base);
    if (b.state == State::free) return PlotStyle::blend(palette().color(QPalette::Text), bg, 0.92).rgb();
    const QColor c = ownerColor(b.owner);
    if (b.state == State::used) return c.rgb();
    return PlotStyle::blend(c, bg, 0.65).rgb();   // cached idle: pale
}

QString KvBlockMapWidget::countsText() const {
    if (!mMap) return {};
    return tr("%1 used · %2 cached · %3 free of %4 blocks (%5 tok/block)")
        .arg(mUsed).arg(mCached).arg(mFree).arg(mMap->blocks.size()).arg(mMap->block_size);
}

int KvBlockMapWidget::swatchesWidth() const {
    int w = 12;
    for (const QString& l : {tr("person"), tr("virtual"), tr("API"), tr("running"), tr("cached idle"), tr("free")})
        w += fontMetrics().height() + fontMetrics().horizontalAdvance(l) + 12;
    return w;
}

int KvBlockMapWidget::legendHeight() const {
    const bool twoRows = swatchesWidth() + fontMetrics().horizontalAdvance(countsText()) + 8 > width();
    return (fontMetrics().height() + 4) * (twoRows ? 2 : 1) + 4;
}

QRect KvBlockMapWidget::gridArea() const { return rect().adjusted(2, legendHeight(), -2, -2); }

void KvBlockMapWidget::layoutGrid() {
    const int n = mMap ? int(mMap->blocks.size()) : 0;
    const QRect area = gridArea();
    const int w = std::max(1, area.width()), h = std::max(1, area.height());
    mCols = mRows = mCell = 1;
    mGap = 0;
    if (n == 0) {
        mTarget = QRectF(area.topLeft(), QSizeF(1, 1));
        return;
    }
    // Largest integer cell pitch c with ceil(n / floor(w/c)) * c <= h.
    int c = std::max(1, int(std::sqrt(double(w) * h / n)));
    while (c > 1 && (w / c == 0 || (n + w / c - 1) / (w / c) * c > h)) --c;
    if (c >= 4) {   // cells of 4 px and up: drawn 1:1, with a 1 px gap from 5 px
        mCell = c;
        mCols = w / c;
        mRows = (n + mCols - 1) / mCols;
        mGap = mCell >= 5 ? 1 : 0;
        mTarget = QRectF(area.topLeft(), QSizeF(mCols * mCell, mRows * mCell));
        return;
    }
    // Dense pools: one pixel per block in a grid of the area's shape, scaled to fill it.
    mCols = std::max(1, int(std::ceil(std::sqrt(double(n) * w / h))));
    mRows = (n + mCols - 1) / mCols;
    const double s = std::min(double(w) / mCols, double(h) / mRows);
    mTarget = QRectF(area.topLeft(), QSizeF(mCols * s, mRows * s));
}

void KvBlockMapWidget::render() {
    layoutGrid();
    const int n = mMap ? int(mMap->blocks.size()) : 0;
    mUsed = mCached = mFree = 0;
    const QRgb bg = palette().color(QPalette::Base).rgb();
    const QSize size(std::max(1, mCols * mCell), std::max(1, mRows * mCell));
    if (mImage.size() != size) mImage = QImage(size, QImage::Format_RGB32);
    mImage.fill(bg);
    if (n == 0) return;
    // Colour table: state x owner kind, computed once.
    QRgb table[3][4];
    for (int s = 0; s < 3; ++s)
        for (int k = 0; k < 4; ++k) {
            const uint64_t owner = k == 1 ? rl::kOwnerVirtualBit : k == 2 ? rl::kOwnerApiBit : k == 3 ? rl::kOwnerAnonymousBit : 0;
            table[s][k] = cellColor({State(s), owner, 0, 0});
        }
    const int inner = mCell - mGap;
    for (int i = 0; i < n; ++i) {
        const auto& b = mMap->blocks[size_t(i)];
        mUsed += b.state == State::used;
        mCached += b.state == State::cached;
        mFree += b.state == State::free;
        const QRgb c = table[int(b.state)][int(rl::owner_kind_of(b.owner))];
        const int x0 = (i % mCols) * mCell, y0 = (i / mCols) * mCell;
        for (int y = 0; y < inner; ++y) {
            QRgb* line = reinterpret_cast<QRgb*>(mImage.scanLine(y0 + y)) + x0;
            for (int x = 0; x < inner; ++x) line[x] = c;
        }
    }
}

void KvBlockMapWidget::onFrame(const MetricsFrame& frame) {
    if (frame.kv) setMap(frame.kv);
}

void KvBlockMapWidget::setMap(std::shared_ptr<const rl::engine::kv_map_view> map) {
    mMap = std::move(map);
    render();
    update();
}

void KvBlockMapWidget::clear() { setMap(nullptr); }

QRect KvBlockMapWidget::cellRect(int i) const {
    if (!mMap || i < 0 || i >= int(mMap->blocks.size()) || mImage.isNull()) return {};
    const double sx = mTarget.width() / mImage.width(), sy = mTarget.height() / mImage.height();
    const int ix = (i % mCols) * mCell, iy = (i / mCols) * mCell, inner = mCell - mGap;
    const QPointF tl(mTarget.left() + ix * sx, mTarget.top() + iy * sy);
    const QPointF br(mTarget.left() + (ix + inner) * sx, mTarget.top() + (iy + inner) * sy);
    // Pixels whose centres fall inside the cell.
    const QPoint a(int(std::lround(tl.x())), int(std::lround(tl.y())));
    const QPoint b(std::max(a.x(), int(std::lround(br.x())) - 1), std::max(a.y(), int(std::lround(br.y())) - 1));
    return QRect(a, b);
}

int KvBlockMapWidget::blockAt(const QPoint& p) const {
    if (!mMap || mMap->blocks.empty() || mImage.isNull() || !mTarget.contains(p)) return -1;
    const int ix = int((p.x() - mTarget.left()) * mImage.width() / mTarget.width());
    const int iy = int((p.y() - mTarget.top()) * mImage.height() / mTarget.height());
    if (ix < 0 || iy < 0 || ix >= mCols * mCell || iy >= mRows * mCell) return -1;
    const int i = (iy / mCell) * mCols + ix / mCell;
    return i < int(mMap->blocks.size()) ? i : -1;
}

QString KvBlockMapWidget::describe(int i) const {
    if (!mMap || i < 0 || i >= int(mMap->blocks.size())) return {};
    const auto& b = mMap->blocks[size_t(i)];
    const char* state = b.state == State::used ? "running" : b.state == State::cached ? "cached idle" : "free";
    QString text = tr("block %1 · %2").arg(i).arg(tr(state));
    if (b.state == State::free) return text;
    const qulonglong id = b.owner & ~kOwnerBits;
    switch (rl::owner_kind_of(b.owner)) {
    case rl::owner_kind::person: text += tr(" · person · conversation %1").arg(id); break;
    case rl::owner_kind::virtual_user: text += tr(" · virtual user %1").arg(id); break;
    case rl::owner_kind::api: text += tr(" · API"); break;
    default: text += tr(" · anonymous"); break;
    }
    text += tr(" · age %1 s").arg(std::max(0.0, mMap->t_s - b.touched_s), 0, 'f', 1);
    return text;
}

void KvBlockMapWidget::paintEvent(QPaintEvent*) {
    QPainter p(this);
    const QPalette& pal = palette();
    p.fillRect(rect(), pal.color(QPalette::Base));
    // Legend: owner swatches, the state shading, then the counts.
    const int h = fontMetrics().height();
    int x = 4;
    const int y = 4;
    auto swatch = [&](const QColor& c, const QString& label) {
        p.fillRect(QRect(x, y + 2, h - 4, h - 4), c);
        x += h;
        p.setPen(pal.color(QPalette::Text));
        p.drawText(QRect(x, y, 400, h), Qt::AlignLeft | Qt::AlignVCenter, label);
        x += fontMetrics().horizontalAdvance(label) + 12;
    };
    swatch(PlotStyle::person(), tr("person"));
    swatch(PlotStyle::virtualUser(), tr("virtual"));
    swatch(PlotStyle::api(), tr("API"));
    const QColor bg = pal.color(QPalette::Base);
    x += 8;   // states, shown in a neutral hue
    const QColor n = PlotStyle::neutral(pal);
    swatch(n, tr("running"));
    swatch(PlotStyle::blend(n, bg, 0.65), tr("cached idle"));
    swatch(PlotStyle::blend(pal.color(QPalette::Text), bg, 0.92), tr("free"));
    if (mMap) {
        const QString counts = countsText();
        p.setPen(pal.color(QPalette::PlaceholderText));
        const bool twoRows = legendHeight() > h + 8;
        p.drawText(twoRows ? QRect(4, y + h + 4, width() - 8, h) : QRect(x, y, width() - x - 4, h),
                   (twoRows ? Qt::AlignLeft : Qt::AlignRight) | Qt::AlignVCenter, counts);
    }
    p.drawImage(mTarget, mImage);   // 1:1, or one pixel per block scaled (no smoothing: sharp cells)
}

void KvBlockMapWidget::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    render();
}

void KvBlockMapWidget::changeEvent(QEvent* event) {
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        render();
        update();
    }
}

void KvBlockMapWidget::mouseMoveEvent(QMouseEvent* event) {
    const QString text = describe(blockAt(event->pos()));
    if (text.isEmpty()) QToolTip::hideText();
    else QToolTip::showText(event->globalPosition().toPoint(), text, this);
}
