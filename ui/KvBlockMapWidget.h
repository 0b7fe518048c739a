// KvBlockMapWidget: every block of the paged KV pool as one cell of a grid, coloured by its last
// owner's kind (person, virtual user, API) and its state (running = saturated, cached idle = pale,
// free = background). Cells shrink to 1 px for large pools (100,000 blocks): the grid is rendered
// into a QImage with direct scanline writes only when the map or the size changes (one pixel per
// block, scaled to fill, once cells would be under 4 px), and paintEvent just blits it. Hover shows block, state, owner and age. A legend row sits above the grid.
// Exercise: tests/test_workbench_plots.cpp (kvMapColours, kvMapLarge).
#pragma once
#include "MetricsFrame.h"

#include <QImage>
#include <QWidget>

class KvBlockMapWidget : public QWidget {
    Q_OBJECT
public:
    explicit KvBlockMapWidget(QWidget* parent = nullptr);

    /// The colour of a block cell (tests and the legend use the same function).
    QRgb cellColor(const rl::block_manager::block_view& b) const;
    /// Block index under widget position p, or -1.
    int blockAt(const QPoint& p) const;
    /// Tooltip text for block i ("block 12 · running · person · conversation 3 · age 1.2 s").
    QString describe(int i) const;
    /// Rectangle of block i's cell in widget coordinates (tests).
    QRect cellRect(int i) const;
    const QImage& image() const { return mImage; }
    int cellSize() const { return mCell; }
    QSize sizeHint() const override { return QSize(420, 260); }

public slots:
    /// Connect MetricsPump::frameReady here (a frame without a KV map changes nothing).
    void onFrame(const MetricsFrame& frame);
    void setMap(std::shared_ptr<const rl::engine::kv_map_view> map);
    void clear();

protected:
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void changeEvent(QEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;

private:
    void layoutGrid();
    void render();
    QRect gridArea() const;
    int legendHeight() const;
    int swatchesWidth() const;
    QString countsText() const;

    std::shared_ptr<const rl::engine::kv_map_view> mMap;
    QImage mImage;
    int mCols = 1, mRows = 1, mCell = 1;   // cell pitch in image pixels
    int mGap = 0;
    QRectF mTarget;                        // where the image is drawn
    int mUsed = 0, mCached = 0, mFree = 0;
};
